import type { DeliveryStats, TargetStats } from '../delivery/delivery-stats.js'
import type { RouteStatus } from '../delivery/route-control.js'
import type { ActionConfig, RuleConfig } from '../rules/schema.js'
import type { CompiledRule } from '../rules/rule-set.js'
import type { TargetConfig } from '../routes/schema.js'
import { CountsLayout, Rates } from './rates.js'

export type FlowNodeKind = 'filter' | 'events' | 'rule' | 'action' | 'route' | 'function' | 'http' | 'topic' | 'store'

export interface FlowNode {
  id: string
  kind: FlowNodeKind
  label: string
  /** For the layout: the first level of the topic filter it hangs from (`$events` for events), or `targets`. */
  group: string
  stats: Record<string, number | string | boolean | null>
}

export interface FlowEdge {
  id: string
  from: string
  to: string
  /** Per second, over the last minute. */
  rate: number
  /** A route's share for this target, 0 to 1 (fan-out: 1 each). */
  weight?: number
  /** An errorAction's edge: taken when an action fails. */
  onError?: boolean
}

export interface FlowMapView {
  at: number
  nodes: FlowNode[]
  edges: FlowEdge[]
}

/** Where the map reads the running config and the live counts. */
export interface FlowSources {
  rules(): readonly CompiledRule[]
  ruleConfigs(): readonly RuleConfig[]
  routes(): Promise<RouteStatus[]>
  functions(): Array<{ name: string; kind: string }>
  deliveries: DeliveryStats
}

/**
 * The map of how events flow through the running config: topic filters
 * (and `$events` inputs) → rules → their actions → routes → functions, HTTP
 * endpoints, republished topics and store tables, each edge with its rate
 * over the last minute and each node with its counts. Rates come from
 * snapshots of the counters that `sample` takes once a second.
 */
export class FlowMap {
  readonly #sources: FlowSources
  readonly #rates = new Rates()
  #layout?: RuleCountsLayout
  readonly #watchers = new Set<() => void>()

  constructor(sources: FlowSources) {
    this.#sources = sources
  }

  /** Calls `watcher` when the config changed (a reload): the map's streams send it then, not at their next tick. */
  onChange(watcher: () => void): () => void {
    this.#watchers.add(watcher)
    return () => this.#watchers.delete(watcher)
  }

  /** The running config changed. */
  changed(): void {
    for (const watcher of this.#watchers) watcher()
  }

  /** Takes a snapshot of every counter the rates are computed from. */
  sample(): void {
    const rules = this.#sources.rules()
    if (!this.#layout || !this.#layout.fits(rules)) this.#layout = new RuleCountsLayout(rules)
    const values = new Float64Array(this.#layout.counts.size)
    let i = 0
    for (const { stats } of rules) {
      values[i++] = stats.matched
      values[i++] = stats.passed
      for (const action of stats.actions) values[i++] = action.success
      if (stats.errorAction) values[i++] = stats.errorAction.success
    }
    const deliveries = new Map<string, number>()
    for (const [target, t] of this.#sources.deliveries.all()) deliveries.set(`${target}:delivered`, t.delivered)
    this.#rates.sample(this.#layout.counts.snapshot(values, deliveries))
  }

  async build(): Promise<FlowMapView> {
    const nodes = new Map<string, FlowNode>()
    const edges: FlowEdge[] = []
    const deliveries = this.#sources.deliveries.all()
    const add = (node: FlowNode) => {
      if (!nodes.has(node.id)) nodes.set(node.id, node)
      return node.id
    }
    const edge = (from: string, to: string, rate: number, extra: Partial<FlowEdge> = {}) => edges.push({ id: `${from}->${to}`, from, to, rate, ...extra })
    const configs = new Map(this.#sources.ruleConfigs().map((c) => [c.name, c]))
    const functions = new Map(this.#sources.functions().map((f) => [f.name, f]))
    const targetNode = (target: TargetLike): string => {
      if (target.function !== undefined) {
        const d = deliveries.get(`function:${target.function}`)
        return add({ id: `function:${target.function}`, kind: 'function', label: target.function, group: 'targets', stats: { kind: functions.get(target.function)?.kind ?? null, ...deliveryCounts(d), invocationsPerSecond: this.#rates.rate(`function:${target.function}:delivered`) } })
      }
      if (target.route !== undefined) return `route:${target.route}`
      if (target.url !== undefined) return add({ id: `http:${target.url}`, kind: 'http', label: target.url, group: 'targets', stats: deliveryCounts(deliveries.get(`url:${target.url}`)) })
      if (target.table !== undefined) return add({ id: `store:${target.table}`, kind: 'store', label: target.table, group: 'targets', stats: {} })
      return add({ id: `topic:${target.topic}`, kind: 'topic', label: target.topic ?? '', group: 'targets', stats: {} })
    }

    for (const route of await this.#sources.routes()) {
      add({ id: `route:${route.name}`, kind: 'route', label: route.name, group: 'routes', stats: { held: route.held, waiting: route.heldEvents, fanout: route.fanout, source: route.source } })
      const total = route.targets.reduce((sum, t) => sum + (t.weight ?? 1), 0)
      for (const target of route.targets) {
        const to = targetNode(target as TargetLike)
        const address = addressOf(target)
        edge(`route:${route.name}`, to, address ? this.#rates.rate(`${address}:delivered`) : 0, { weight: route.fanout ? 1 : total > 0 ? (target.weight ?? 1) / total : 0 })
      }
    }

    for (const rule of this.#sources.rules()) {
      const input = rule.from.startsWith('$events/') ? 'events' : 'filter'
      const group = rule.from.split('/')[0] || '/'
      const from = add({ id: `filter:${rule.from}`, kind: input, label: rule.from, group, stats: {} })
      const id = add({
        id: `rule:${rule.name}`, kind: 'rule', label: rule.name, group,
        stats: { enabled: rule.enabled, enabledSource: rule.enabledSource, matched: rule.stats.matched, passed: rule.stats.passed, failed: rule.stats.failed, loops: rule.stats.loops, sql: rule.sql },
      })
      edge(from, id, this.#rates.rate(`rule:${rule.name}:matched`))
      const config = configs.get(rule.name)
      const actions: Array<[ActionConfig | undefined, string, boolean]> = rule.stats.actions.map((_a, i) => [config?.actions[i], String(i), false])
      if (rule.stats.errorAction) actions.push([config?.errorAction, 'error', true])
      for (const [action, at, onError] of actions) {
        const counts = at === 'error' ? rule.stats.errorAction! : rule.stats.actions[Number(at)]!
        const actionId = add({ id: `action:${rule.name}/${at}`, kind: 'action', label: counts.kind, group, stats: { success: counts.success, failure: counts.failure, onError } })
        edge(id, actionId, onError ? this.#rates.rate(`action:${rule.name}/error:success`) : this.#rates.rate(`rule:${rule.name}:passed`), onError ? { onError } : {})
        const target = action && targetOfAction(action)
        if (target) edge(actionId, targetNode(target), this.#rates.rate(`action:${rule.name}/${at}:success`))
      }
    }
    return { at: Date.now(), nodes: [...nodes.values()], edges }
  }
}

interface TargetLike {
  function?: string
  route?: string
  url?: string
  topic?: string
  table?: string
}

function targetOfAction(action: ActionConfig): TargetLike | undefined {
  const config = action.config as Record<string, unknown>
  const text = (v: unknown) => (typeof v === 'string' ? v : typeof v === 'object' && v !== null && 'source' in v ? String((v as { source: unknown }).source) : undefined)
  switch (action.kind) {
    case 'invoke': return config.route !== undefined ? { route: String(config.route) } : { function: String(config.function) }
    case 'republish': return { topic: text(config.topic) ?? '' }
    case 'http': return { url: text(config.url) ?? '' }
    case 'store': return { table: String(config.table) }
    default: return undefined
  }
}

function addressOf(target: TargetConfig): string | undefined {
  if ('function' in target) return `function:${target.function}`
  if ('route' in target) return undefined
  if ('url' in target) return `url:${target.url}`
  return undefined
}

function deliveryCounts(d: TargetStats | undefined): Record<string, number | null> {
  return { delivered: d?.delivered ?? 0, failed: d?.failed ?? 0, deadLettered: d?.deadLettered ?? 0, p99Ms: d?.p99Ms === null || d?.p99Ms === undefined ? null : Math.round(d.p99Ms * 10) / 10 }
}

/**
 * Where each rule's counters go in a snapshot (`FlowMap.sample`): its
 * matched and passed counts, each action's successes, its errorAction's.
 * Made again when the rules change, or the actions of one (a reload
 * reshapes the stats of a rule it keeps).
 */
class RuleCountsLayout {
  readonly counts: CountsLayout
  readonly #rules: readonly CompiledRule[]
  readonly #widths: number[]

  constructor(rules: readonly CompiledRule[]) {
    this.#rules = rules
    this.#widths = rules.map(counterWidth)
    this.counts = new CountsLayout(rules.flatMap(({ name, stats }) => [
      `rule:${name}:matched`,
      `rule:${name}:passed`,
      ...stats.actions.map((_, i) => `action:${name}/${i}:success`),
      ...(stats.errorAction ? [`action:${name}/error:success`] : []),
    ]))
  }

  fits(rules: readonly CompiledRule[]): boolean {
    return rules === this.#rules && rules.every((rule, i) => counterWidth(rule) === this.#widths[i])
  }
}

function counterWidth({ stats }: CompiledRule): number {
  return 2 + stats.actions.length + (stats.errorAction ? 1 : 0)
}
