import { describe, expect, it } from 'vitest'
import { checkRoutes, findCycle } from './check.js'
import { routesSchema } from './schema.js'

const routes = (value: unknown) => routesSchema.parse(value)

describe('checkRoutes', () => {
  it('accepts routes whose targets exist', () => {
    const r = routes({
      'chat-handler': { targets: [{ function: 'chatV1', weight: 90 }, { function: 'chatV2', weight: 10 }] },
      'new-user': { fanout: true, targets: [{ function: 'welcome' }, { route: 'analytics' }, { topic: 'audit/users' }] },
      analytics: { targets: [{ url: 'http://127.0.0.1:9/a' }] },
    })
    expect(checkRoutes(r, new Set(['chatV1', 'chatV2', 'welcome']))).toEqual([])
  })

  it('names a missing function or route', () => {
    const r = routes({ a: { targets: [{ function: 'nope' }, { route: 'ghost' }] } })
    expect(checkRoutes(r, new Set())).toEqual([
      { path: ['a', 'targets', 0, 'function'], message: 'names function nope, which is not defined under functions' },
      { path: ['a', 'targets', 1, 'route'], message: 'names route ghost, which is not defined' },
    ])
  })

  it('refuses cycles, direct and through other routes', () => {
    expect(findCycle(routes({ a: { targets: [{ route: 'a' }] } }))).toEqual(['a', 'a'])
    const r = routes({
      a: { targets: [{ route: 'b' }] },
      b: { fanout: true, targets: [{ topic: 'x' }, { route: 'c' }] },
      c: { targets: [{ route: 'a' }] },
    })
    expect(checkRoutes(r, new Set())).toEqual([{ path: ['a'], message: 'forms a cycle: a → b → c → a' }])
  })
})
