import type { RouteConfig } from './schema.js'

export interface RouteProblem {
  /** Path inside the routes map, e.g. ['chat-handler', 'targets', 1, 'function']. */
  path: Array<string | number>
  message: string
}

/**
 * Checks what one route alone cannot: that every function and route a
 * target names exists, and that no chain of routes comes back to itself.
 */
export function checkRoutes(routes: Readonly<Record<string, RouteConfig>>, functions: ReadonlySet<string>): RouteProblem[] {
  const problems: RouteProblem[] = []
  for (const [name, route] of Object.entries(routes)) {
    route.targets.forEach((target, i) => {
      if ('function' in target && !functions.has(target.function)) {
        problems.push({ path: [name, 'targets', i, 'function'], message: `names function ${target.function}, which is not defined under functions` })
      }
      if ('route' in target && !(target.route in routes)) {
        problems.push({ path: [name, 'targets', i, 'route'], message: `names route ${target.route}, which is not defined` })
      }
    })
  }
  const cycle = findCycle(routes)
  if (cycle) problems.push({ path: [cycle[0]!], message: `forms a cycle: ${cycle.join(' → ')}` })
  return problems
}

/** A chain of route names that returns to its start, or undefined. */
export function findCycle(routes: Readonly<Record<string, RouteConfig>>): string[] | undefined {
  const state = new Map<string, 'visiting' | 'done'>()
  const stack: string[] = []
  const visit = (name: string): string[] | undefined => {
    const seen = state.get(name)
    if (seen === 'done') return undefined
    if (seen === 'visiting') return [...stack.slice(stack.indexOf(name)), name]
    state.set(name, 'visiting')
    stack.push(name)
    for (const target of routes[name]?.targets ?? []) {
      if ('route' in target) {
        const found = visit(target.route)
        if (found) return found
      }
    }
    stack.pop()
    state.set(name, 'done')
    return undefined
  }
  for (const name of Object.keys(routes)) {
    const found = visit(name)
    if (found) return found
  }
  return undefined
}
