import { Redis } from 'ioredis'
import { describe, expect, it } from 'vitest'
import type { ClusterNode } from './helpers/cluster.js'
import { useCluster } from './helpers/use-cluster.js'
import { useApp } from './helpers/use-app.js'
import { waitUntil } from './helpers/wait.js'

// Routes as DNS for events: each node caches the routes in Redis, at a
// version; a change on one node is in force on the others at once (a
// notice), within routes.cacheTtl if the notice was lost, and at
// once everywhere on a flush.

const TOKEN = 'cluster-routes-admin-token-0123456789'
const f = useCluster({ adminToken: TOKEN })
const app = useApp({ adminToken: TOKEN })

// Long enough that a change seen within a second, three times running, was
// not seen thanks to the timer; short enough for a test to wait out.
const TTL_MS = 3000
const SHARED = {
  yaml: `
rules:
  - name: routed
    sql: SELECT * FROM 'routed/in'
    actions:
      - invoke: { route: pipe }
routes:
  cacheTtl: ${TTL_MS}ms
  pipe:
    targets: [ { topic: 'piped/one' } ]
  spare:
    targets: [ { topic: 'spare/out' } ]
`,
}

interface RouteView { name: string; targets: Array<{ topic?: string }> }
interface RoutesList { routes: RouteView[]; version: number; nodes: Array<{ id: string; version: number | null; alive: boolean }> }

const topicOf = (node: ClusterNode, route: string) => f.api(node, `/routes/${route}`).then((r: RouteView) => r.targets[0]?.topic)

/** Polls every node until `route` points at `topic` on each; resolves with how long each took, in ms, from `since`. */
async function inForce(nodes: ClusterNode[], route: string, topic: string, since: number, timeout: number): Promise<number[]> {
  return Promise.all(nodes.map(async (node) => {
    await waitUntil(() => topicOf(node, route), { until: (t) => t === topic, what: `${route} -> ${topic} on ${node.id}`, timeout, interval: 5 })
    return performance.now() - since
  }))
}

describe('route caches across nodes', () => {
  it('a route repointed on one node is in force on the others within a second, and routes its events there', async () => {
    const { nodes: [a, b, c] } = await f.shared(SHARED)
    // The first request a node answers is slow (its HTTP routes compile): not what is measured.
    for (const node of [a!, b!, c!]) await f.api(node, '/routes/pipe')
    for (const topic of ['piped/two', 'piped/three', 'piped/one']) {
      const since = performance.now()
      const put = await f.request(a!, '/routes/pipe', { method: 'PUT', body: { targets: [{ topic }] } })
      expect(put.status).toBe(200)
      const took = await inForce([b!, c!], 'pipe', topic, since, 5000)
      console.log(`pipe -> ${topic}: in force on node-b after ${took[0]!.toFixed(0)} ms, on node-c after ${took[1]!.toFixed(0)} ms`)
      for (const ms of took) expect(ms).toBeLessThan(1000)
    }

    // And an event that enters on node-c goes where node-a pointed the route.
    await f.request(a!, '/routes/pipe', { method: 'PUT', body: { targets: [{ topic: 'piped/two' }] } })
    await inForce([c!], 'pipe', 'piped/two', performance.now(), 5000)
    const sub = await f.connectWithInbox(b!, { clientId: 'routes-watcher' })
    await sub.client.subscribeAsync('piped/#', { qos: 1 })
    const pub = await f.connect(c!, { clientId: 'routes-publisher' })
    await pub.publishAsync('routed/in', JSON.stringify({ n: 1 }), { qos: 1 })
    expect((await sub.inbox.on('piped/two')).payload).toBe(JSON.stringify({ n: 1 }))
  })

  it('every node serves the console: a route held through one node is held on another node\'s map', async () => {
    const { nodes: [a, b, c] } = await f.shared(SHARED)
    const page = await fetch(`${b!.httpUrl}/console`)
    expect(await page.text()).toContain('<title>Switchyard console</title>')
    expect((await f.request(a!, '/routes/spare/hold', { method: 'POST' })).status).toBe(200)
    try {
      const held = await waitUntil(async () => (await f.api(c!, '/console/map') as { nodes: Array<{ id: string; stats: Record<string, unknown> }> }).nodes.find((n) => n.id === 'route:spare')?.stats.held, {
        what: 'route spare held on node-c\'s map', until: (h) => h === true, timeout: 5000,
      })
      expect(held).toBe(true)
    } finally {
      await f.request(a!, '/routes/spare/release', { method: 'POST' })
    }
  })

  it('a change whose notice was lost is in force on every node within routes.cacheTtl', async () => {
    const cluster = await f.shared(SHARED)
    const [a, b, c] = cluster.nodes
    // Written as RedisRouteStateStore does, without its notice: only the
    // timer brings it to the nodes.
    const redis = new Redis(cluster.redis.url, { lazyConnect: true })
    f.defer(() => redis.quit())
    await redis.connect()
    const since = performance.now()
    await redis.multi()
      .hset('switchyard:routes:definitions', 'spare', JSON.stringify({ updatedAt: Date.now(), definition: { targets: [{ topic: 'spare/silent', qos: 1, weight: 1 }], fanout: false } }))
      .incr('switchyard:routes:version')
      .exec()
    const took = await inForce([a!, b!, c!], 'spare', 'spare/silent', since, TTL_MS + 2000)
    console.log(`a change without its notice: in force after ${took.map((ms) => ms.toFixed(0)).join(', ')} ms (routes.cacheTtl ${TTL_MS} ms)`)
    for (const ms of took) expect(ms).toBeLessThan(TTL_MS + 500)
  })

  it('a change made while the nodes\' notice subscriptions were cut is in force once they resubscribe', async () => {
    const cluster = await f.shared(SHARED)
    const [a, b, c] = cluster.nodes
    const redis = new Redis(cluster.redis.url, { lazyConnect: true })
    f.defer(() => redis.quit())
    await redis.connect()
    // Every subscribed connection: each node's route notices and flushes.
    const killed = await redis.call('CLIENT', 'KILL', 'TYPE', 'pubsub') as number
    expect(killed).toBeGreaterThanOrEqual(3)
    const since = performance.now()
    expect((await f.request(a!, '/routes/spare', { method: 'PUT', body: { targets: [{ topic: 'spare/cut' }] } })).status).toBe(200)
    const took = await inForce([b!, c!], 'spare', 'spare/cut', since, TTL_MS + 2000)
    console.log(`a change made while subscriptions were cut: in force after ${took.map((ms) => ms.toFixed(0)).join(', ')} ms`)
    for (const ms of took) expect(ms).toBeLessThan(TTL_MS)
  })

  it('a flush on one node answers once every node read its routes again; GET /api/routes lists the version each node holds', async () => {
    const { nodes: [a, b, c] } = await f.shared(SHARED)
    const flushed = await f.request(b!, '/routes/flush', { method: 'POST' })
    const body = await flushed.json() as { route: string | null; confirmed: Array<{ id: string; version: number }>; missing: string[] }
    expect(flushed.status).toBe(200)
    expect(body.route).toBeNull()
    expect(body.confirmed.map((n) => n.id)).toEqual(['node-a', 'node-b', 'node-c'])
    expect(body.missing).toEqual([])
    const { version } = await f.api(a!, '/routes') as RoutesList
    for (const n of body.confirmed) expect(n.version).toBe(version)

    const one = await f.request(c!, '/routes/pipe/flush', { method: 'POST' })
    expect(one.status).toBe(200)
    expect(await one.json()).toMatchObject({ route: 'pipe', missing: [] })
    expect((await f.request(c!, '/routes/nope/flush', { method: 'POST' })).status).toBe(404)

    // Each node's version, as of its heartbeat, is the one all hold.
    const list = await waitUntil(() => f.api(c!, '/routes') as Promise<RoutesList>, {
      until: (r) => r.nodes.length === 3 && r.nodes.every((n) => n.version === r.version),
      what: 'every node at the same version, listed on node-c',
    })
    expect(list.nodes.map((n) => n.id)).toEqual(['node-a', 'node-b', 'node-c'])
    expect(list.routes.map((r) => r.name).sort()).toEqual(['pipe', 'spare'])
  })

  it('a flush names the live node that did not answer in time', async () => {
    const { nodes: [a, b, c] } = await f.start({ yaml: 'routes:\n  cacheTtl: 1s\n' })
    // Stopped (SIGSTOP): its heartbeat is fresh for nodeTimeout, but it answers nothing.
    c!.child.process.kill('SIGSTOP')
    f.defer(() => void c!.child.process.kill('SIGCONT'))
    const started = performance.now()
    const res = await f.request(a!, '/routes/flush', { method: 'POST' })
    expect(res.status).toBe(504)
    expect(await res.json()).toMatchObject({ confirmed: [{ id: 'node-a' }, { id: 'node-b' }], missing: ['node-c'] })
    expect(performance.now() - started).toBeGreaterThanOrEqual(1900)
    // Node-b is listed with the version it read.
    expect((await f.api(b!, '/routes')).nodes.find((n: { id: string }) => n.id === 'node-b').version).toBe(0)
  })
})

describe('one node on its own', () => {
  it('a flush reads the routes again and answers with the node itself; GET /api/routes lists it with its version', async () => {
    await app.start(`
routes:
  pipe:
    targets: [ { topic: 'piped/one' } ]
`)
    expect((await app.request('/routes/pipe', { method: 'PUT', body: { targets: [{ topic: 'piped/two' }] } })).status).toBe(200)
    const list = await app.api('/routes')
    expect(list).toMatchObject({ version: 1, nodes: [{ version: 1, alive: true }] })
    const res = await app.request('/routes/flush', { method: 'POST' })
    expect(res.status).toBe(200)
    const body = await res.json()
    expect(body).toEqual({ route: null, confirmed: [{ id: list.nodes[0].id, version: 1 }], missing: [] })
    expect(await app.api('/routes/pipe/flush', { method: 'POST' })).toMatchObject({ route: 'pipe', missing: [] })
    expect((await app.request('/routes/nope/flush', { method: 'POST' })).status).toBe(404)
    expect((await app.api('/routes/pipe')).targets).toEqual([{ topic: 'piped/two', qos: 1, weight: 1 }])
  })
})
