import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startChild } from './helpers/child.js'
import { fixturePath } from './helpers/fixtures.js'
import type { ClusterNode } from './helpers/cluster.js'
import { sampleOf } from './helpers/metrics.js'
import { closedPort } from './helpers/net.js'
import { RawClient } from './helpers/raw-client.js'
import { Recorder } from './helpers/recorder.js'
import { useCluster } from './helpers/use-cluster.js'
import { waitUntil } from './helpers/wait.js'

// Three real `switchyard start` processes on one real redis-server: to a
// client, any node is the same broker.

const TOKEN = 'cluster-admin-token-0123456789'
const f = useCluster({ adminToken: TOKEN })

// The tests that leave the nodes and Redis running share one cluster, with a
// rule that sends every `orders/+` message to `recorder`.
const recorder = new Recorder()
beforeAll(() => recorder.start())
afterAll(() => recorder.close())
const rules = (url: string) => `
rules:
  - name: hook
    sql: SELECT * FROM 'orders/+'
    actions:
      - http: { url: '${url}/orders', durable: true, retry: { attempts: 100, initialDelay: 20ms, maxDelay: 100ms } }
`
// And a route, stored events and a target that always fails, for the stores the nodes share.
const routerRules = (deadUrl: string) => `
  - name: piped
    sql: SELECT * FROM 'pipe/in'
    actions:
      - invoke: { route: pipe }
  - name: notes
    sql: SELECT * FROM 'notes/+'
    actions:
      - store: { table: notes, key: '\${topic(2)}' }
  - name: doomed
    sql: SELECT * FROM 'doomed/+'
    actions:
      - http: { url: '${deadUrl}/x', durable: true, retry: { attempts: 1 } }
  - name: relay
    sql: SELECT * FROM 'relay/in'
    actions:
      - republish: { topic: 'relay/out' }
  - name: letters
    sql: SELECT * FROM '$events/deadletter/#'
    actions:
      - store: { table: letters }
routes:
  pipe:
    targets: [ { topic: 'piped/out' } ]
functions:
  lookup: { module: ${fixturePath('cluster/lookup.js')} }
http:
  - { method: GET, path: '/notes/:key', function: lookup }
`
let SHARED: { yaml: string }
beforeAll(async () => {
  SHARED = { yaml: rules(recorder.url) + routerRules(`http://127.0.0.1:${await closedPort()}`) }
})

const json = (m: { payload: string }) => JSON.parse(m.payload) as Record<string, unknown>
const pause = (ms: number) => new Promise((r) => setTimeout(r, ms))
const port = (node: ClusterNode) => node.child.mqttPort
// The harness' cluster.nodeTimeout.
const NODE_TIMEOUT_MS = 2000

describe('messages', () => {
  it('a publish on one node reaches the matching subscribers on the others, at each QoS, over TCP and WebSocket', async () => {
    const { nodes: [a, b, c] } = await f.shared(SHARED)
    const onB = await f.connectWithInbox(b!, { clientId: 'sub-b' })
    await onB.client.subscribeAsync({ 'sensors/+/temp': { qos: 2 }, 'other/#': { qos: 2 } })
    const onC = await f.connectWithInbox(c!.wsUrl, { clientId: 'sub-c' })
    await onC.client.subscribeAsync({ 'sensors/#': { qos: 1 } })
    await pause(100)
    const pub = await f.connect(a!, { clientId: 'pub-a' })
    for (const qos of [0, 1, 2] as const) await pub.publishAsync(`sensors/s${qos}/temp`, `q${qos}`, { qos })
    await pub.publishAsync('unmatched/topic', 'x', { qos: 1 })

    const atB = await onB.inbox.count(3)
    expect(atB.map((m) => [m.topic, m.payload, m.packet.qos])).toEqual([['sensors/s0/temp', 'q0', 0], ['sensors/s1/temp', 'q1', 1], ['sensors/s2/temp', 'q2', 2]])
    const atC = await onC.inbox.count(3)
    expect(atC.map((m) => [m.topic, m.packet.qos])).toEqual([['sensors/s0/temp', 0], ['sensors/s1/temp', 1], ['sensors/s2/temp', 1]])
    await onB.inbox.flush()
    await onC.inbox.flush()
    expect(onB.inbox.messages).toHaveLength(3)
    expect(onC.inbox.messages).toHaveLength(3)
  })

  it('a QoS 0 republish on a node where no client reads its topic reaches the subscriber on another', async () => {
    const { nodes: [a, b] } = await f.shared(SHARED)
    const onB = await f.connectWithInbox(b!, { clientId: 'relay-reader' })
    await onB.client.subscribeAsync('relay/out', { qos: 0 })
    await pause(100)
    const pub = await f.connect(a!, { clientId: 'relay-publisher' })
    await pub.publishAsync('relay/in', 'across', { qos: 1 })
    const [relayed] = await onB.inbox.count(1)
    expect(relayed).toMatchObject({ topic: 'relay/out', payload: 'across' })
    expect(await f.metric(a!, 'switchyard_publishes_no_subscribers_total{node="node-a"}')).toBe(0)
  })

  it('$events of one node reach subscribers on the others, with the node they happened on', async () => {
    const { nodes: [a, , c] } = await f.shared(SHARED)
    const watcher = await f.connectWithInbox(c!, { clientId: 'watcher' })
    await watcher.client.subscribeAsync('$events/presence/+/+', { qos: 1 })
    await pause(100)
    const device = await f.connect(a!, { clientId: 'device-1' })
    await device.endAsync()
    const events = await watcher.inbox.waitFor((m) => m.some((x) => x.topic === '$events/presence/disconnected/device-1'))
    const connected = json(events.find((m) => m.topic === '$events/presence/connected/device-1')!)
    expect(connected).toMatchObject({ clientId: 'device-1', eventType: 'connected', node: 'node-a' })
    expect(json(events.find((m) => m.topic === '$events/presence/disconnected/device-1')!)).toMatchObject({ disconnectReason: 'CLIENT_INITIATED_DISCONNECT', node: 'node-a' })
  })
})

describe('sessions and retained messages', () => {
  it('a persistent client that subscribed on A, was away while messages were published on B, gets them all on C', async () => {
    const { nodes: [a, b, c] } = await f.shared(SHARED)
    const first = await f.connect(a!, { clientId: 'roamer', clean: false })
    await first.subscribeAsync('parcels/#', { qos: 1 })
    await first.endAsync()
    const pub = await f.connect(b!, { clientId: 'publisher' })
    const N = 50
    for (let i = 0; i < N; i++) await pub.publishAsync(`parcels/${i}`, String(i), { qos: 1 })
    const back = await f.connectWithInbox(c!, { clientId: 'roamer', clean: false })
    const received = await back.inbox.count(N)
    expect(received.map((m) => Number(m.payload))).toEqual(Array.from({ length: N }, (_, i) => i))
    await back.inbox.flush()
    expect(back.inbox.messages).toHaveLength(N)
  })

  it('a client id held by one user on one node is refused to another user on another node', async () => {
    const { nodes: [a, b] } = await f.shared(SHARED)
    const owner = await f.connect(a!, { clientId: 'held-id', clean: false, username: 'alice' })
    expect(await f.attempt(b!, { clientId: 'held-id', clean: false, username: 'mallory' })).toMatch(/Not authorized/)
    expect(owner.connected).toBe(true)
    await owner.endAsync()
    expect(await f.attempt(b!, { clientId: 'held-id', clean: false, username: 'mallory' })).toMatch(/Not authorized/)
    expect(await f.attempt(b!, { clientId: 'held-id', clean: false, username: 'alice' })).toBe('connected')
  })

  it('the CONNACK of a resumed session says sessionPresent on another node', async () => {
    const { nodes: [a, , c] } = await f.shared(SHARED)
    const first = await RawClient.connect(port(a!), { clientId: 'present', clean: false })
    await first.next((p) => p.cmd === 'connack')
    first.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'x/#', qos: 1 }] })
    await first.next((p) => p.cmd === 'suback')
    await first.disconnect()
    const again = await RawClient.connect(port(c!), { clientId: 'present', clean: false })
    expect(await again.first()).toMatchObject({ cmd: 'connack', returnCode: 0, sessionPresent: true })
    await again.disconnect()
  })

  it('a retained message set on A is read on B and cleared on C', async () => {
    const { nodes: [a, b, c] } = await f.shared(SHARED)
    const setter = await f.connect(a!, { clientId: 'setter' })
    await setter.publishAsync('config/mode', 'eco', { qos: 1, retain: true })
    const reader = await f.connectWithInbox(b!, { clientId: 'reader' })
    await reader.client.subscribeAsync('config/+', { qos: 1 })
    const got = await reader.inbox.on('config/mode')
    expect([got.payload, got.packet.retain]).toEqual(['eco', true])

    const clearer = await f.connect(c!, { clientId: 'clearer' })
    await clearer.publishAsync('config/mode', '', { qos: 1, retain: true })
    const later = await f.connectWithInbox(b!, { clientId: 'later' })
    await later.client.subscribeAsync('config/#', { qos: 1 })
    await later.inbox.flush()
    expect(later.inbox.messages).toEqual([])
  })

  it('a second connection with the same client id on B closes the first on A, whose disconnected event says DUPLICATE_CLIENTID', async () => {
    const { nodes: [a, b, c] } = await f.shared(SHARED)
    const watcher = await f.connectWithInbox(c!, { clientId: 'watcher' })
    await watcher.client.subscribeAsync(['$events/presence/disconnected/twin', 'wills/twin'], { qos: 1 })
    await pause(100)
    const onA = await RawClient.connect(port(a!), { clientId: 'twin', will: { topic: 'wills/twin', payload: Buffer.from('first'), qos: 1, retain: false } })
    await onA.next((p) => p.cmd === 'connack')
    const onB = await RawClient.connect(port(b!), { clientId: 'twin' })
    await onB.next((p) => p.cmd === 'connack')
    await waitUntil(() => onA.closed.then(() => true), { what: 'the first connection to close', timeout: 5000 })
    const event = json(await watcher.inbox.on('$events/presence/disconnected/twin'))
    expect(event).toMatchObject({ clientId: 'twin', node: 'node-a', disconnectReason: 'DUPLICATE_CLIENTID' })
    // The first connection ended without a DISCONNECT: its will goes out, once.
    await watcher.inbox.on('wills/twin')
    await pause(NODE_TIMEOUT_MS)
    await watcher.inbox.flush()
    expect(watcher.inbox.messages.filter((m) => m.topic === 'wills/twin').map((m) => m.payload)).toEqual(['first'])
    await onB.disconnect()
  })

  it('a second connection with the same client id on the same node sends the first one\'s will once, and keeps its own', async () => {
    const { nodes: [a, , c] } = await f.shared(SHARED)
    const watcher = await f.connectWithInbox(c!, { clientId: 'watcher' })
    await watcher.client.subscribeAsync('wills/solo', { qos: 1 })
    await pause(100)
    const first = await RawClient.connect(port(a!), { clientId: 'solo', will: { topic: 'wills/solo', payload: Buffer.from('first'), qos: 1, retain: false } })
    await first.next((p) => p.cmd === 'connack')
    const second = await RawClient.connect(port(a!), { clientId: 'solo', will: { topic: 'wills/solo', payload: Buffer.from('second'), qos: 1, retain: false } })
    await second.next((p) => p.cmd === 'connack')
    await first.closed
    await watcher.inbox.on('wills/solo')
    // The second connection's will is still in the store, its own: it goes out once its connection is lost.
    await second.drop()
    await watcher.inbox.waitFor((m) => m.filter((x) => x.topic === 'wills/solo').length >= 2, 5000, 'the second will')
    await pause(NODE_TIMEOUT_MS)
    await watcher.inbox.flush()
    expect(watcher.inbox.messages.filter((m) => m.topic === 'wills/solo').map((m) => m.payload)).toEqual(['first', 'second'])
  })
})

describe('the CONNACK comes first [MQTT-3.2.0-1]', () => {
  it('a persistent client hopping between nodes 200 times while QoS 1 traffic flows gets CONNACK as its first packet every time', async () => {
    const { nodes } = await f.shared(SHARED)
    const setup = await RawClient.connect(port(nodes[0]!), { clientId: 'hopper', clean: false })
    await setup.next((p) => p.cmd === 'connack')
    setup.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'traffic/#', qos: 1 }] })
    await setup.next((p) => p.cmd === 'suback')
    await setup.drop()

    // Traffic on every node, all the time.
    const publishers = await Promise.all(nodes.map((n, i) => f.connect(n, { clientId: `traffic-${i}` })))
    let flowing = true
    const traffic = publishers.map(async (p, i) => {
      for (let k = 0; flowing; k++) await p.publishAsync(`traffic/${i}`, String(k), { qos: 1 })
    })

    const firsts: string[] = []
    for (let hop = 0; hop < 200; hop++) {
      const node = nodes[hop % nodes.length]!
      const client = await RawClient.connect(port(node), { clientId: 'hopper', clean: false })
      const first = await client.first()
      firsts.push(first.cmd)
      // Some hops read a little of the queue, acknowledging it; others leave at once.
      if (hop % 2 === 0) await pause(5)
      for (const p of client.packets) if (p.cmd === 'publish' && p.qos === 1) client.send({ cmd: 'puback', messageId: p.messageId! })
      await client.drop()
    }
    flowing = false
    await Promise.all(traffic)
    expect(firsts.filter((cmd) => cmd !== 'connack')).toEqual([])
  })
})

describe('rules', () => {

  it('fire once per message cluster-wide, on the node that received the publish', async () => {
    const { nodes } = await f.shared(SHARED)
    const clients = await Promise.all(nodes.map((n, i) => f.connect(n, { clientId: `pub-${i}` })))
    for (let i = 0; i < 30; i++) await clients[i % 3]!.publishAsync(`orders/${i}`, JSON.stringify({ order: i }), { qos: 1 })
    await waitUntil(() => recorder.calls.length >= 30, { what: '30 requests' })
    await pause(300)
    expect(recorder.calls.map((c) => (c.body as { order: number }).order).sort((x, y) => x - y)).toEqual(Array.from({ length: 30 }, (_, i) => i))
  })

  it('a QoS 1 retransmit to another node, after the first node recorded the deliveries and died before its PUBACK, does not fire the rule twice', async () => {
    const recorder = await f.recorder()
    recorder.status = () => 503 // nothing is delivered until the check below
    // A short lease: a claim node A held as it died soon passes to another node.
    const { nodes: [a, b] } = await f.start({ yaml: `${rules(recorder.url)}delivery:\n  lease: 1s\n` })
    const publish = { cmd: 'publish' as const, topic: 'orders/7', payload: Buffer.from('{"order":7}'), qos: 1 as const, messageId: 42, retain: false, dup: false }

    const onA = await RawClient.connect(port(a!), { clientId: 'shop', clean: false })
    await onA.next((p) => p.cmd === 'connack')
    onA.send(publish)
    // The PUBACK means A recorded the deliveries; the client is made to act
    // as if it never arrived: A dies, and the client sends the publish again
    // to B, with DUP set.
    await onA.next((p) => p.cmd === 'puback')
    await a!.kill('SIGKILL')

    const onB = await RawClient.connect(port(b!), { clientId: 'shop', clean: false })
    await onB.next((p) => p.cmd === 'connack')
    onB.send({ ...publish, dup: true })
    await onB.next((p) => p.cmd === 'puback' && p.messageId === 42)
    // A new message that reuses the packet id is a new message.
    onB.send({ ...publish, payload: Buffer.from('{"order":8}'), dup: true })
    await onB.next((p) => p.cmd === 'puback' && p.messageId === 42 && onB.packets.filter((x) => x.cmd === 'puback').length === 2)

    recorder.status = () => 200
    await a!.restart()
    await waitUntil(() => recorder.calls.length >= 2, { what: 'the deliveries of orders 7 and 8' })
    await pause(1000)
    expect(recorder.calls.map((c) => (c.body as { order: number }).order).sort()).toEqual([7, 8])
    await onB.disconnect()
  })
})

describe('the event router across nodes', () => {
  it('a route held through one node holds deliveries recorded on another, shows them waiting on a third, and is released from there', async () => {
    const { nodes: [a, b, c] } = await f.shared(SHARED)
    const sub = await f.connectWithInbox(a!, { clientId: 'pipe-watcher' })
    await sub.client.subscribeAsync('piped/out', { qos: 1 })
    expect((await f.request(a!, '/routes/pipe/hold', { method: 'POST' })).status).toBe(200)
    await pause(300)
    const pub = await f.connect(b!, { clientId: 'pipe-publisher' })
    for (let i = 0; i < 3; i++) await pub.publishAsync('pipe/in', JSON.stringify({ i }), { qos: 1 })
    const waiting = await waitUntil(async () => (await f.api(c!, '/routes/pipe')) as { held: boolean; heldEvents: number }, { until: (r) => r.heldEvents === 3, what: 'three events held, seen from node-c' })
    expect(waiting.held).toBe(true)
    await sub.inbox.flush()
    expect(sub.inbox.messages).toEqual([])

    expect((await f.request(c!, '/routes/pipe/release', { method: 'POST' })).status).toBe(200)
    const got = await sub.inbox.count(3)
    expect(got.map((m) => json(m).i)).toEqual([0, 1, 2])
  })

  it('an event stored on one node is read on another; a dead letter made on one is listed and replayed from another', async () => {
    const { nodes: [a, b, c] } = await f.shared(SHARED)
    const pub = await f.connect(a!, { clientId: 'notes-publisher' })
    await pub.publishAsync('notes/kitchen', JSON.stringify({ text: 'milk' }), { qos: 1 })
    await pub.publishAsync('doomed/1', JSON.stringify({ n: 1 }), { qos: 1 })
    const stored = await waitUntil(() => f.api(b!, '/store/notes?key=kitchen') as Promise<{ events: Array<{ data: unknown }> }>, { until: (r) => r.events.length === 1, what: 'the note, read on node-b' })
    expect(stored.events[0]!.data).toEqual({ text: 'milk' })
    // Stored events replayed from a third node reach a subscriber on the first.
    const replays = await f.connectWithInbox(a!, { clientId: 'replay-watcher' })
    await replays.client.subscribeAsync('replayed/notes', { qos: 1 })
    await pause(100)
    expect(await f.api(c!, '/replay', { method: 'POST', body: { table: 'notes', key: 'kitchen', from: 0, topic: 'replayed/notes' } })).toEqual({ replayed: 1 })
    expect((await replays.inbox.count(1)).map(json)).toEqual([{ text: 'milk' }])

    const letters = await waitUntil(() => f.api(c!, '/deadletters') as Promise<{ deadLetters: Array<{ id: number; target: string }> }>, { until: (r) => r.deadLetters.some((l) => l.target.includes('/x')), what: 'the dead letter, listed on node-c' })
    const letter = letters.deadLetters.find((l) => l.target.includes('/x'))!
    // Each dead letter is announced once, by the node that made it (the announcements are stored, cluster-wide).
    const announced = () => f.api(b!, '/store/letters') as Promise<{ events: unknown[] }>
    await waitUntil(announced, { until: (r) => r.events.length === 1, what: 'the dead letter announced' })
    const replayed = await f.api(c!, '/deadletters/replay', { method: 'POST', body: { ids: [letter.id] } }) as { replayed: number }
    expect(replayed.replayed).toBe(1)
    // Replayed, it fails again: a second dead letter, announced once too.
    await waitUntil(announced, { until: (r) => r.events.length === 2, what: 'the replayed delivery dead-lettered again' })
    await pause(1000)
    expect((await announced()).events).toHaveLength(2)
  })
})

describe('functions on every node', () => {
  it('the HTTP gateway and the sync invoke API answer on each node, run there, and see the store and the broker of the whole cluster', async () => {
    const { nodes } = await f.shared(SHARED)
    const [a, b, c] = nodes
    const watcher = await f.connectWithInbox(b!, { clientId: 'lookup-watcher' })
    await watcher.client.subscribeAsync('looked-up/pantry', { qos: 1 })
    const pub = await f.connect(a!, { clientId: 'pantry-publisher' })
    await pub.publishAsync('notes/pantry', JSON.stringify({ text: 'rice' }), { qos: 1 })
    await waitUntil(() => f.api(c!, '/store/notes?key=pantry') as Promise<{ events: unknown[] }>, { until: (r) => r.events.length === 1, what: 'the note stored' })

    for (const node of nodes) {
      const pid = node.child.process.pid
      const res = await fetch(`${node.httpUrl}/notes/pantry`)
      expect(res.status).toBe(200)
      expect(await res.json()).toEqual({ pid, notes: [{ text: 'rice' }] })
      const sync = await f.api(node, '/functions/lookup/invoke', { method: 'POST', body: { event: { key: 'pantry' } } }) as { requestId: string; result: unknown }
      expect(sync.result).toEqual({ pid, notes: [{ text: 'rice' }] })
    }
    // Each call's ctx.publish reached a subscriber on node-b, from whichever node ran it.
    const announced = await watcher.inbox.count(6)
    const pids = nodes.map((n) => n.child.process.pid)
    expect(announced.map((m) => json(m).pid)).toEqual(pids.flatMap((pid) => [pid, pid]))
  })
})

describe('the event router across nodes, with restarts', () => {
  // Three nodes started and 1,000 QoS 1 publishes: 9 s alone, 15 to 17 s
  // beside the rest of the suite, over 30 s in a slow phase of the machine.
  it('1,000 events published on three nodes into a function: each invoked exactly once, counted in the function', async () => {
    const file = join(f.tempDir(), 'tally.txt')
    writeFileSync(file, '')
    const { nodes } = await f.start({ yaml: `
functions:
  tally: { module: ${fixturePath('cluster/tally.js')} }
rules:
  - name: tally
    sql: SELECT * FROM 'tally/in'
    actions:
      - invoke: { function: tally }
` })
    // The node that ran an invocation reports it, once: one event per invocation, cluster-wide.
    const watcher = await f.connectWithInbox(nodes[2]!, { clientId: 'tally-watcher' })
    await watcher.client.subscribeAsync('$events/functions/tally/invoked', { qos: 1 })
    await pause(200)
    const publishers = await Promise.all(nodes.map((n, i) => f.connect(n, { clientId: `tally-${i}` })))
    await Promise.all(publishers.map(async (p, i) => {
      for (let n = i; n < 1000; n += 3) await p.publishAsync('tally/in', JSON.stringify({ n, file }), { qos: 1 })
    }))
    const lines = () => readFileSync(file, 'utf8').split('\n').filter(Boolean).map(Number)
    await waitUntil(() => lines().length, { until: (n) => n >= 1000, what: '1,000 invocations', timeout: 20_000 })
    await pause(1500)
    const seen = lines()
    expect(seen).toHaveLength(1000)
    expect(new Set(seen).size).toBe(1000)
    await watcher.inbox.flush()
    expect(watcher.inbox.messages).toHaveLength(1000)
  }, 60_000)

  it('held on A, published on B and C, every node restarted, released on C: every held event, in order', async () => {
    const { nodes: [a, b, c] } = await f.start({ yaml: `
rules:
  - name: ordered
    sql: SELECT * FROM 'ordered/in'
    actions:
      - invoke: { route: ordered }
routes:
  ordered:
    targets: [ { topic: 'ordered/out' } ]
` })
    expect((await f.request(a!, '/routes/ordered/hold', { method: 'POST' })).status).toBe(200)
    await pause(300)
    const onB = await f.connect(b!, { clientId: 'ordered-b' })
    for (let i = 0; i < 10; i++) await onB.publishAsync('ordered/in', JSON.stringify({ i }), { qos: 1 })
    const onC = await f.connect(c!, { clientId: 'ordered-c' })
    for (let i = 10; i < 20; i++) await onC.publishAsync('ordered/in', JSON.stringify({ i }), { qos: 1 })
    await f.endClients()

    for (const node of [a, b, c]) await node!.restart()
    const sub = await f.connectWithInbox(a!, { clientId: 'ordered-watcher' })
    await sub.client.subscribeAsync('ordered/out', { qos: 1 })
    expect((await f.api(c!, '/routes/ordered') as { held: boolean; heldEvents: number })).toMatchObject({ held: true, heldEvents: 20 })
    expect((await f.request(c!, '/routes/ordered/release', { method: 'POST' })).status).toBe(200)
    const got = await sub.inbox.count(20, 10_000)
    expect(got.map((m) => json(m).i)).toEqual(Array.from({ length: 20 }, (_, i) => i))
  })
})

describe('a node killed with kill -9', () => {
  it('in the middle of a slow invocation: another node runs it again after the lease, and it is reported invoked once', async () => {
    const file = join(f.tempDir(), 'slow.txt')
    writeFileSync(file, '')
    // The node that reports an invocation stores the report (in the store the nodes share): the count is the number of reports.
    const { nodes } = await f.start({ yaml: `
functions:
  slow: { module: ${fixturePath('cluster/slow-tally.js')}, timeout: 10s }
rules:
  - name: slow
    sql: SELECT * FROM 'slow/in'
    actions:
      - invoke: { function: slow }
  - name: reports
    sql: SELECT * FROM '$events/functions/slow/invoked'
    actions:
      - store: { table: invoked }
delivery:
  lease: 1s
` })
    const pub = await f.connect(nodes[0]!, { clientId: 'slow-publisher' })
    await pub.publishAsync('slow/in', JSON.stringify({ n: 1, file }), { qos: 1 })
    await f.endClients()

    // Whichever node started it dies before it is done.
    const started = await waitUntil(() => readFileSync(file, 'utf8').match(/^start 1 (\d+)$/m), { what: 'the invocation to start' })
    const runner = nodes.find((n) => n.child.process.pid === Number(started![1]))!
    await runner.kill('SIGKILL')
    const done = await waitUntil(() => readFileSync(file, 'utf8').match(/^done 1 (\d+)$/m), { what: 'another node to run it to the end', timeout: 15_000 })
    expect(Number(done![1])).not.toBe(runner.child.process.pid)

    await pause(1500)
    expect(readFileSync(file, 'utf8').split('\n').filter((l) => l.startsWith('done 1 '))).toHaveLength(1)
    const survivor = nodes.find((n) => n !== runner)!
    const reports = await f.api(survivor, '/store/invoked') as { events: unknown[] }
    expect(reports.events).toHaveLength(1)
  })

  it('its durable deliveries are run by another node once their lease runs out', async () => {
    const target = await f.recorder()
    target.status = () => 503 // failing while node A runs them
    const { nodes: [a] } = await f.start({ yaml: `${rules(target.url)}delivery:\n  lease: 1s\n` })
    const pub = await f.connect(a!, { clientId: 'shop-a' })
    for (let i = 0; i < 5; i++) await pub.publishAsync(`orders/${i}`, JSON.stringify({ order: i }), { qos: 1 })
    await pause(200)
    await a!.kill('SIGKILL')
    target.status = () => 200
    await waitUntil(() => target.calls.length, { until: (n) => n >= 5, what: 'the five deliveries, made by node-b or node-c', timeout: 10_000 })
    await pause(1500)
    expect(target.calls.map((c) => (c.body as { order: number }).order).sort()).toEqual([0, 1, 2, 3, 4])
  })

  it('its clients reconnect to the others and lose no acknowledged QoS 1 message; its wills and disconnected events are published once, by another node', async () => {
    const { nodes: [a, b, c] } = await f.start()
    const watcher = await f.connectWithInbox(c!, { clientId: 'watcher' })
    await watcher.client.subscribeAsync(['wills/#', '$events/presence/disconnected/+'], { qos: 1 })

    // On A: a persistent subscriber with a will, and a publisher.
    const sub = await f.connectWithInbox(a!, { clientId: 'sub-1', clean: false, will: { topic: 'wills/sub-1', payload: Buffer.from('gone'), qos: 1, retain: false } })
    await sub.client.subscribeAsync('feed/#', { qos: 1 })
    const pub = await f.connect(a!, { clientId: 'pub-1' })
    const acked: number[] = []
    for (let i = 0; i < 50; i++) {
      await pub.publishAsync(`feed/${i}`, String(i), { qos: 1 })
      acked.push(i)
    }
    await a!.kill('SIGKILL')

    // They come back on the others: the publisher on B, the subscriber on C.
    const pub2 = await f.connect(b!, { clientId: 'pub-1' })
    for (let i = 50; i < 80; i++) {
      await pub2.publishAsync(`feed/${i}`, String(i), { qos: 1 })
      acked.push(i)
    }
    // What the subscriber got before A died, and after, on C, is every acknowledged message.
    const back = await f.connectWithInbox(c!, { clientId: 'sub-1', clean: false })
    const before = sub.inbox.messages.map((x) => Number(x.payload))
    const got = await back.inbox.waitFor((m) => new Set([...before, ...m.map((x) => Number(x.payload))]).size >= acked.length, 10_000, 'every acknowledged message')
    expect(new Set([...before, ...got.map((x) => Number(x.payload))])).toEqual(new Set(acked))

    // The will and both disconnected events, once each, from a node still alive.
    await watcher.inbox.waitFor((m) => m.some((x) => x.topic === 'wills/sub-1') && m.filter((x) => x.topic.startsWith('$events/presence/disconnected/')).length >= 2, 15_000)
    await pause(NODE_TIMEOUT_MS + 1000)
    await watcher.inbox.flush()
    expect(watcher.inbox.messages.filter((m) => m.topic === 'wills/sub-1').map((m) => m.payload)).toEqual(['gone'])
    const disconnected = watcher.inbox.messages.filter((m) => m.topic.startsWith('$events/presence/disconnected/')).map(json)
    expect(disconnected.map((e) => e.clientId).sort()).toEqual(['pub-1', 'sub-1'])
    for (const e of disconnected) expect(e).toMatchObject({ node: 'node-a', disconnectReason: 'CONNECTION_LOST' })
    expect(new Set(disconnected.map((e) => e.reportedBy))).not.toContain('node-a')

    const cluster = await f.api(b!, '/cluster') as { nodes: Array<{ id: string }> }
    expect(cluster.nodes.map((n) => n.id)).toEqual(['node-b', 'node-c'])
  })
})

describe('Redis restarted while nodes run', () => {
  it('the nodes report it on /healthz, reconnect by themselves, and lose no acknowledged message', async () => {
    const { redis, nodes: [a, b] } = await f.start()
    // Both reconnect: an outage longer than nodeTimeout (a loaded machine) closes their connections.
    const sub = await f.connectWithInbox(b!, { clientId: 'steady', clean: false, reconnectPeriod: 200 })
    await sub.client.subscribeAsync('ticks', { qos: 1 })
    const pub = await f.connect(a!, { clientId: 'ticker', reconnectPeriod: 200 })
    const acked: number[] = []
    let flowing = true
    const ticking = (async () => {
      for (let i = 0; flowing; i++) {
        try {
          await pub.publishAsync('ticks', String(i), { qos: 1 })
          acked.push(i)
        } catch {
          await pause(50)
        }
      }
    })()
    await waitUntil(() => acked.length >= 20, { what: '20 acknowledged ticks' })

    await redis.stop()
    await waitUntil(async () => (await fetch(`${a!.httpUrl}/healthz`)).status, { until: (s) => s === 503, what: '/healthz to answer 503' })
    const down = await (await fetch(`${a!.httpUrl}/healthz`)).json() as { reason: string }
    expect(down.reason).toMatch(/Redis/)
    await pause(500)
    await redis.restart()
    await waitUntil(async () => (await fetch(`${a!.httpUrl}/healthz`)).status, { until: (s) => s === 200, what: '/healthz to answer 200 again', timeout: 10_000 })
    const after = acked.length
    await waitUntil(() => acked.length >= after + 20, { what: '20 more acknowledged ticks', timeout: 10_000 })
    flowing = false
    await ticking

    const got = await sub.inbox.waitFor((m) => new Set(m.map((x) => Number(x.payload))).size >= acked.length, 15_000, 'every acknowledged tick')
    const received = new Set(got.map((x) => Number(x.payload)))
    expect(acked.filter((i) => !received.has(i))).toEqual([])
  })
})

describe('Redis gone for longer than nodeTimeout', () => {
  it('every node closes its client connections and says so on /healthz; back, none is taken for dead and each will goes out once', async () => {
    // The node that publishes a will stores it (in the store the nodes share): the count is the number of publications.
    const { redis, nodes: [a, b, c] } = await f.start({ yaml: "rules:\n  - name: wills\n    sql: SELECT * FROM 'wills/#'\n    actions:\n      - store: { table: wills }\n" })
    const watcher = await f.connectWithInbox(c!, { clientId: 'watcher', reconnectPeriod: 200, clean: false })
    await watcher.client.subscribeAsync(['wills/#'], { qos: 1 })
    const lamp = await RawClient.connect(port(a!), { clientId: 'lamp', will: { topic: 'wills/lamp', payload: Buffer.from('off'), qos: 1, retain: false } })
    await lamp.next((p) => p.cmd === 'connack')
    await pause(300)

    await redis.stop()
    await lamp.closed
    const health = await (await fetch(`${a!.httpUrl}/healthz`)).json() as { status: string; reason: string }
    expect(health.status).toBe('unavailable')
    await redis.restart()
    await waitUntil(async () => Promise.all([a, b, c].map(async (n) => (await fetch(`${n!.httpUrl}/healthz`)).status)), { until: (s) => s.every((x) => x === 200), what: 'every node healthy again', timeout: 15_000 })

    await watcher.inbox.on('wills/lamp', 10_000)
    await pause(NODE_TIMEOUT_MS + 1000)
    const stored = await f.api(b!, '/store/wills') as { events: unknown[] }
    expect(stored.events).toHaveLength(1)
    const view = await f.api(b!, '/cluster') as { nodes: Array<{ id: string; alive: boolean }> }
    expect(view.nodes.map((n) => [n.id, n.alive])).toEqual([['node-a', true], ['node-b', true], ['node-c', true]])
  })
})

describe('a node paused past nodeTimeout', () => {
  it('is taken for dead and its wills go out from another node; resumed, it closes its clients and sends none of their wills again', async () => {
    const { nodes: [a, b, c] } = await f.start({ yaml: "rules:\n  - name: wills\n    sql: SELECT * FROM 'wills/#'\n    actions:\n      - store: { table: wills }\n" })
    const watcher = await f.connectWithInbox(c!, { clientId: 'watcher' })
    await watcher.client.subscribeAsync(['wills/#'], { qos: 1 })
    const lamp = await RawClient.connect(port(a!), { clientId: 'lamp', will: { topic: 'wills/lamp', payload: Buffer.from('off'), qos: 1, retain: false } })
    await lamp.next((p) => p.cmd === 'connack')
    await pause(300)

    // A process stopped (a long GC, a VM paused, SIGSTOP) looks dead to the others.
    a!.child.process.kill('SIGSTOP')
    await waitUntil(async () => (await f.api(b!, '/cluster') as { nodes: Array<{ id: string }> }).nodes.map((n) => n.id), { until: (ids) => !ids.includes('node-a'), what: 'node-a reaped', timeout: 10_000 })
    await watcher.inbox.on('wills/lamp', 10_000)
    a!.child.process.kill('SIGCONT')
    await lamp.closed
    await waitUntil(async () => (await f.api(b!, '/cluster') as { nodes: Array<{ id: string; alive: boolean }> }).nodes.filter((n) => n.alive).length, { until: (n) => n === 3, what: 'node-a back in the cluster', timeout: 10_000 })

    await pause(1000)
    await watcher.inbox.flush()
    expect(watcher.inbox.messages.filter((m) => m.topic === 'wills/lamp').map((m) => m.payload)).toEqual(['off'])
    const stored = await f.api(b!, '/store/wills') as { events: Array<{ topic: string }> }
    expect(stored.events.map((e) => e.topic)).toEqual(['wills/lamp'])
  })
})

describe('the cluster from outside', () => {
  it('GET /api/cluster lists every node with its address, clients and last heartbeat; /metrics names the node', async () => {
    const { nodes } = await f.shared(SHARED)
    await f.connect(nodes[1]!, { clientId: 'one' })
    await f.connect(nodes[1]!, { clientId: 'two' })
    const view = await waitUntil(() => f.api(nodes[0]!, '/cluster') as Promise<{ cluster: boolean; node: string; nodes: Array<Record<string, unknown>> }>, {
      until: (v) => v.nodes.find((n) => n.id === 'node-b')?.clients === 2,
      what: 'node-b listed with its two clients',
    })
    expect(view.cluster).toBe(true)
    expect(view.node).toBe('node-a')
    expect(view.nodes.map((n) => n.id)).toEqual(['node-a', 'node-b', 'node-c'])
    for (const [i, n] of view.nodes.entries()) {
      const node = nodes[i] as ClusterNode
      expect(n).toMatchObject({ alive: true, address: { mqtt: port(node), http: node.child.httpPort } })
      expect(Date.now() - Date.parse(n.heartbeat as string)).toBeLessThan(5000)
    }
    const metrics = await (await fetch(`${nodes[2]!.httpUrl}/metrics`)).text()
    expect(sampleOf(metrics, 'switchyard_cluster_nodes{node="node-c"}')).toBe(3)
    // Its stream errors are listed before any happened, as the README names them.
    for (const op of ['write', 'read', 'decode']) expect(sampleOf(metrics, `switchyard_cluster_stream_errors_total{op="${op}",node="node-c"}`), op).toBe(0)
  })

  it('a node restarted right after kill -9 takes its id back and reports what its earlier run owed', async () => {
    const { nodes: [a, , c] } = await f.start()
    const watcher = await f.connectWithInbox(c!, { clientId: 'watcher' })
    await watcher.client.subscribeAsync(['wills/#', '$events/presence/+/lamp'], { qos: 1 })
    await f.connect(a!, { clientId: 'lamp', will: { topic: 'wills/lamp', payload: Buffer.from('off'), qos: 1, retain: false } })
    // Once its connected event is out, node A has listed the client for the cluster.
    await watcher.inbox.on('$events/presence/connected/lamp')
    await a!.kill('SIGKILL')
    await a!.restart()
    await watcher.inbox.waitFor((m) => m.some((x) => x.topic === 'wills/lamp') && m.some((x) => x.topic === '$events/presence/disconnected/lamp'))
    await pause(NODE_TIMEOUT_MS + 500)
    await watcher.inbox.flush()
    expect(watcher.inbox.messages.map((m) => m.topic).sort()).toEqual(['$events/presence/connected/lamp', '$events/presence/disconnected/lamp', 'wills/lamp'])
    const view = await f.api(c!, '/cluster') as { nodes: Array<{ id: string; alive: boolean }> }
    expect(view.nodes.map((n) => [n.id, n.alive])).toEqual([['node-a', true], ['node-b', true], ['node-c', true]])
  })

  it('a node does not start with the id of a running node', async () => {
    const { nodes: [, b] } = await f.shared(SHARED)
    const dir = f.tempDir()
    const config = join(dir, 'switchyard.yaml')
    writeFileSync(config, readFileSync(b!.configFile, 'utf8').replace(/mqtt: \d+\n  http: \d+/, 'mqtt: 0\n  http: 0'))
    await expect(startChild(config)).rejects.toThrow(/cluster.nodeId node-b is in use by a running node/)
  })
})
