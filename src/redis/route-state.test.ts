import { Redis, type RedisOptions } from 'ioredis'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { startRedis, type RedisServer } from '../../test/helpers/redis.js'
import { waitUntil } from '../../test/helpers/wait.js'
import { RedisRouteStateStore } from './route-state.js'
import { watchRouteChanges, type RouteChange, type RouteWatch } from './route-state-watch.js'

// Two stores on one Redis and one key prefix stand for two nodes of a
// cluster: each has its own connection (auto-pipelined, as the cluster's).

let server: RedisServer
let admin: Redis
const connections: Redis[] = []
const watches: RouteWatch[] = []
let prefixes = 0

beforeAll(async () => {
  server = await startRedis({ appendfsync: 'everysec' })
  admin = new Redis(server.url)
})
afterEach(async () => {
  await Promise.all(watches.splice(0).map((w) => w.close()))
  await Promise.all(connections.splice(0).map((c) => c.quit()))
})
afterAll(async () => {
  await admin?.quit()
  await server?.remove()
})

function connection(options: RedisOptions = {}): Redis {
  const redis = new Redis(server.url, { enableAutoPipelining: true, ...options })
  connections.push(redis)
  return redis
}

function twoNodes() {
  const keyPrefix = `test-${++prefixes}:`
  return { a: new RedisRouteStateStore({ redis: connection(), keyPrefix }), b: new RedisRouteStateStore({ redis: connection(), keyPrefix }), keyPrefix }
}

/** Watches the routes as a node would, keeping every change it is told. */
async function watch(keyPrefix: string, options: RedisOptions = {}) {
  const changes: RouteChange[] = []
  const w = watchRouteChanges(connection(options), keyPrefix, (change) => changes.push(change))
  watches.push(w)
  await w.ready
  return { changes, close: () => w.close() }
}

const T = 1_700_000_000_000

describe('RedisRouteStateStore in a cluster', () => {
  it('lets each node read the changes the other made, at one version', async () => {
    const { a, b } = twoNodes()
    const put = await a.putDefinition('chat', { targets: [{ function: 'chatV2' }] }, T)
    const held = await b.setHeld('chat', true, T + 1)
    expect(held).toBeGreaterThan(put)
    const state = { version: held, routes: [{ name: 'chat', definition: { targets: [{ function: 'chatV2' }] }, held: true, updatedAt: T }], rules: [] }
    expect(await a.read()).toEqual(state)
    expect(await b.read()).toEqual(state)
    expect(await a.version()).toBe(held)
  })

  it('keeps every change two nodes make at once, each at a version of its own', async () => {
    const { a, b } = twoNodes()
    const start = await a.version()
    const versions = await Promise.all(Array.from({ length: 100 }, (_, i) => {
      const node = i % 2 === 0 ? a : b
      const route = `route-${i % 10}`
      // The same routes from both nodes: half the changes put a definition, half set a hold.
      return i % 4 < 2 ? node.putDefinition(route, { targets: [{ topic: `t/${i}` }] }, T + i) : node.setHeld(route, true, T + i)
    }))
    expect(new Set(versions).size).toBe(100)
    expect(Math.min(...versions)).toBe(start + 1)
    expect(Math.max(...versions)).toBe(start + 100)
    const { version, routes } = await b.read()
    expect(version).toBe(start + 100)
    // Each route got both a definition and a hold; neither undid the other.
    expect(routes.map((r) => [r.name, r.held, r.definition !== null])).toEqual(Array.from({ length: 10 }, (_, i) => [`route-${i}`, true, true]))
  })

  it('tells a watching node of each change another node makes, with its version and route', async () => {
    const { a, b, keyPrefix } = twoNodes()
    const before = await a.putDefinition('chat', { targets: [{ function: 'chatV1' }] }, T)
    const { changes } = await watch(keyPrefix)
    // Once subscribed, the version as it was: nothing missed.
    expect(changes).toEqual([{ version: before, route: null }])
    const put = await b.putDefinition('audit', { targets: [{ topic: 'audit/users' }] }, T + 1)
    const held = await a.setHeld('chat', true, T + 2)
    await waitUntil(() => changes.length, { what: 'two change notices', until: (n) => n >= 3 })
    expect(changes).toEqual([{ version: before, route: null }, { version: put, route: 'audit' }, { version: held, route: 'chat' }])
  })

  it('tells a watching node of a rule switched on another node, with its version and rule, on the routes\' channel', async () => {
    const { a, b, keyPrefix } = twoNodes()
    const { changes } = await watch(keyPrefix)
    const off = await b.setRuleEnabled('audit', false, T)
    const cleared = await a.setRuleEnabled('audit', null, T + 1)
    await waitUntil(() => changes.length, { what: 'two rule notices', until: (n) => n >= 3 })
    expect(changes).toEqual([{ version: 0, route: null }, { version: off, route: null, rule: 'audit' }, { version: cleared, route: null, rule: 'audit' }])
    expect(await a.read()).toEqual({ version: cleared, routes: [], rules: [] })
  })

  it('tells a watching node the version again after its connection was lost, so that a change made meanwhile is not missed', async () => {
    const { a, keyPrefix } = twoNodes()
    // Reconnects after 300 ms: the change below is made while it is away.
    const { changes } = await watch(keyPrefix, { retryStrategy: () => 300 })
    await admin.client('KILL', 'TYPE', 'pubsub')
    const missed = await a.setHeld('chat', true, T)
    await waitUntil(() => changes.at(-1), { what: 'the version read again once subscribed again', until: (c) => c?.version === missed })
    expect(changes).toEqual([{ version: 0, route: null }, { version: missed, route: null }])
    // Subscribed again: the next change comes as a notice.
    const next = await a.setHeld('chat', false, T + 1)
    await waitUntil(() => changes.at(-1), { what: 'the notice after the reconnect', until: (c) => c?.version === next })
    expect(changes.at(-1)).toEqual({ version: next, route: 'chat' })
  })

  it('tells nothing more once closed', async () => {
    const { a, keyPrefix } = twoNodes()
    const closed = await watch(keyPrefix)
    const open = await watch(keyPrefix)
    await closed.close()
    const version = await a.setHeld('chat', true, T)
    await waitUntil(() => open.changes.at(-1), { what: 'the notice on the watch still open', until: (c) => c?.version === version })
    expect(closed.changes).toEqual([{ version: 0, route: null }])
  })
})
