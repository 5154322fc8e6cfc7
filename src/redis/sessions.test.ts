import { Redis } from 'ioredis'
import mqemitter, { type MQEmitter } from 'mqemitter'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { startRedis, type RedisServer } from '../../test/helpers/redis.js'
import type { StoredPacket } from '../storage/session-types.js'
import { RedisSessionStore } from './sessions.js'

// Two stores on one Redis stand for two nodes of a cluster: each has its own
// connection (auto-pipelined, as the cluster's) and broker id. Their brokers
// share an emitter, as a cluster's do, unless a test keeps them apart.

let server: RedisServer
let redis: Redis
const connections: Redis[] = []
const stores: RedisSessionStore[] = []
let prefixes = 0

beforeAll(async () => {
  server = await startRedis({ appendfsync: 'everysec' })
  redis = new Redis(server.url)
})
afterEach(async () => {
  await Promise.all(stores.splice(0).map((s) => s.destroy()))
  await Promise.all(connections.splice(0).map((c) => c.quit()))
})
afterAll(async () => {
  await redis?.quit()
  await server?.remove()
})

function brokerOn(id: string, mq: MQEmitter) {
  return { id, publish: mq.emit.bind(mq), subscribe: mq.on.bind(mq), unsubscribe: mq.removeListener.bind(mq) }
}

async function node(id: string, keyPrefix: string, mq: MQEmitter): Promise<RedisSessionStore> {
  const connection = new Redis(server.url, { enableAutoPipelining: true })
  connections.push(connection)
  const store = new RedisSessionStore({ redis: connection, keyPrefix })
  stores.push(store)
  await store.setup(brokerOn(id, mq))
  return store
}

async function twoNodes(options: { sharedEmitter?: boolean } = {}) {
  const keyPrefix = `test-${++prefixes}:`
  const mq = mqemitter()
  const a = await node('node-a', keyPrefix, mq)
  const b = await node('node-b', keyPrefix, options.sharedEmitter === false ? mqemitter() : mq)
  return { a, b, keyPrefix }
}

const bytes = Buffer.from([0, 1, 2, 0x7f, 0x80, 0xfe, 0xff])

describe('wills', () => {
  it('gives each will of a dead node to exactly one of two nodes claiming them at once', async () => {
    const { a, b, keyPrefix } = await twoNodes()
    const dead = await node('node-dead', keyPrefix, mqemitter())
    const ids = Array.from({ length: 200 }, (_, i) => `device-${String(i).padStart(3, '0')}`)
    const will = (id: string) => ({ cmd: 'publish', topic: `gone/${id}`, payload: bytes, qos: 1, retain: false })
    await Promise.all(ids.map((id) => dead.putWill({ id }, will(id))))
    const alive = { 'node-a': Date.now(), 'node-b': Date.now() }
    expect((await b.streamWill(alive).toArray()).length).toBe(ids.length)

    // As two reapers would: each node claims one will after another, A from
    // the first, B from the last, so they meet and contend in the middle.
    const claimEach = async (store: RedisSessionStore, order: string[]) => {
      const got = []
      for (const clientId of order) {
        const claimed = await store.claimWill({ clientId, brokerId: 'node-dead' })
        if (claimed) got.push(claimed)
      }
      return got
    }
    const [byA, byB] = await Promise.all([claimEach(a, ids), claimEach(b, [...ids].reverse())])
    expect(byA.length).toBeGreaterThan(0)
    expect(byB.length).toBeGreaterThan(0)
    const claimed = [...byA, ...byB].sort((x, y) => x.clientId.localeCompare(y.clientId))
    expect(claimed).toEqual(ids.map((id) => ({ ...will(id), clientId: id, brokerId: 'node-dead' })))
    expect(await a.streamWill(alive).toArray()).toEqual([])

    // And all at once: every claim of both nodes in flight together.
    await Promise.all(ids.map((id) => dead.putWill({ id }, will(id))))
    const pairs = await Promise.all(ids.map((clientId) => Promise.all([
      a.claimWill({ clientId, brokerId: 'node-dead' }),
      b.claimWill({ clientId, brokerId: 'node-dead' }),
    ])))
    for (const [i, pair] of pairs.entries()) {
      expect(pair.filter((w) => w !== undefined)).toEqual([{ ...will(ids[i]!), clientId: ids[i], brokerId: 'node-dead' }])
    }
    expect(await a.getWill({ id: ids[0]! })).toBeUndefined()
  })

  it('claims nothing for a client whose will another broker holds now', async () => {
    const { a, b } = await twoNodes()
    await a.putWill({ id: 'device' }, { cmd: 'publish', topic: 'gone/first', payload: bytes, qos: 0, retain: false })
    // The client reconnected to node B, which replaced the will.
    await b.delWill({ id: 'device' })
    await b.putWill({ id: 'device' }, { cmd: 'publish', topic: 'gone/second', payload: bytes, qos: 0, retain: false })
    expect(await b.claimWill({ clientId: 'device', brokerId: 'node-a' })).toBeUndefined()
    expect(await a.streamWill({ 'node-b': Date.now() }).toArray()).toEqual([])
    expect(await a.getWill({ id: 'device' })).toMatchObject({ brokerId: 'node-b', topic: 'gone/second' })
  })
})

describe('outgoing queues', () => {
  const packet = {
    cmd: 'publish', topic: 'orders/1', payload: bytes, qos: 1, retain: false, dup: false, brokerId: 'node-a', brokerCounter: 7,
    properties: { correlationData: Buffer.from([9, 0, 9]), userProperties: { k: ['a', 'b'] }, messageExpiryInterval: 60 },
  }

  it('lets a node stream and clear a message in flight that another node sent', async () => {
    const { a, b, keyPrefix } = await twoNodes()
    await a.outgoingEnqueueCombi([{ clientId: 'mover' }, { clientId: 'other' }], packet)
    await a.outgoingUpdate({ id: 'mover' }, { ...packet, messageId: 42 })

    const queued = await b.outgoingStream({ id: 'mover' }).toArray() as StoredPacket[]
    expect(queued).toHaveLength(1)
    expect(queued[0]).toStrictEqual({ ...packet, messageId: 42 })
    const cleared = await b.outgoingClearMessageId({ id: 'mover' }, { cmd: 'puback', messageId: 42 })
    expect(cleared).toStrictEqual(queued[0])
    expect(await a.outgoingStream({ id: 'mover' }).toArray()).toEqual([])

    // The other subscriber's copy of the shared packet is untouched; once it goes, the packet goes.
    const [other] = await a.outgoingStream({ id: 'other' }).toArray() as StoredPacket[]
    expect(other).toStrictEqual({ ...packet, messageId: undefined })
    await b.outgoingUpdate({ id: 'other' }, { ...packet, messageId: 5 })
    expect(await a.outgoingClearMessageId({ id: 'other' }, { cmd: 'puback', messageId: 5 })).toStrictEqual({ ...packet, messageId: 5 })
    expect(await redis.keys(`${keyPrefix}session:out*`)).toEqual([])
  })

  it('queues a live delivery that the publishing node did not queue (it had not heard of the subscription yet), rather than refuse it', async () => {
    const { b, keyPrefix } = await twoNodes()
    await b.outgoingUpdate({ id: 'newcomer' }, { ...packet, messageId: 3 })
    const queued = await b.outgoingStream({ id: 'newcomer' }).toArray() as StoredPacket[]
    expect(queued).toStrictEqual([{ ...packet, messageId: 3 }])
    expect(await b.outgoingClearMessageId({ id: 'newcomer' }, { cmd: 'puback', messageId: 3 })).toStrictEqual({ ...packet, messageId: 3 })
    expect(await redis.keys(`${keyPrefix}session:out*`)).toEqual([])
    // A PUBREL of nothing queued is still refused.
    await expect(b.outgoingUpdate({ id: 'newcomer' }, { cmd: 'pubrel', messageId: 4 })).rejects.toThrow(/no such packet/)
  })

  it('queues a fan-out of thousands in one call, each copy cleared on its own', async () => {
    const { a, b, keyPrefix } = await twoNodes()
    const clientIds = Array.from({ length: 2500 }, (_, i) => `fan-${i}`)
    // fan-0 has two matching subscriptions, so two copies.
    await a.outgoingEnqueueCombi([{ clientId: 'fan-0' }, ...clientIds.map((clientId) => ({ clientId }))], packet)
    expect(await b.outgoingStream({ id: 'fan-0' }).toArray()).toHaveLength(2)
    for (const clientId of [...clientIds, 'fan-0']) {
      // As Aedes does with a copy it did not send: cleared by the message, without a message id.
      expect(await b.outgoingClearMessageId({ id: clientId }, { ...packet })).toStrictEqual({ ...packet, messageId: undefined })
    }
    expect(await redis.keys(`${keyPrefix}session:out*`)).toEqual([])
  })

  it("lets a node complete another node's QoS 2 delivery after the PUBREC", async () => {
    const { a, b } = await twoNodes()
    const qos2 = { ...packet, qos: 2 }
    await a.outgoingEnqueue({ clientId: 'mover' }, qos2)
    await a.outgoingUpdate({ id: 'mover' }, { ...qos2, messageId: 9 })
    await a.outgoingUpdate({ id: 'mover' }, { cmd: 'pubrel', messageId: 9 })
    expect(await b.outgoingStream({ id: 'mover' }).toArray()).toEqual([{ cmd: 'pubrel', messageId: 9 }])
    // Node B resends the PUBREL under its own broker id, as Aedes does with a stored packet.
    await b.outgoingUpdate({ id: 'mover' }, { cmd: 'pubrel', messageId: 9, brokerId: 'node-b', brokerCounter: 1 })
    expect(await b.outgoingClearMessageId({ id: 'mover' }, { cmd: 'pubcomp', messageId: 9 })).toMatchObject({ cmd: 'pubrel', messageId: 9 })
    expect(await a.outgoingStream({ id: 'mover' }).toArray()).toEqual([])
  })

  it('streams a long queue in order, a page at a time, while it is cleared', async () => {
    const { a, b } = await twoNodes()
    for (let i = 1; i <= 250; i++) await a.outgoingEnqueue({ clientId: 'slow' }, { ...packet, brokerCounter: i })
    let n = 0
    for await (const queued of b.outgoingStream({ id: 'slow' })) {
      expect((queued as StoredPacket).brokerCounter).toBe(++n)
      await b.outgoingUpdate({ id: 'slow' }, { ...(queued as StoredPacket), messageId: n } as never)
      await a.outgoingClearMessageId({ id: 'slow' }, { cmd: 'puback', messageId: n })
    }
    expect(n).toBe(250)
    expect(await b.outgoingStream({ id: 'slow' }).toArray()).toEqual([])
  })
})

describe('retained messages', () => {
  it('are set through one node, read and cleared through another', async () => {
    const { a, b } = await twoNodes()
    const retained = {
      cmd: 'publish', topic: 'sensors/1/temp', payload: bytes, qos: 1, retain: true, dup: false,
      properties: { contentType: 'application/octet-stream', correlationData: Buffer.from([1, 0]) },
    }
    await a.storeRetained(retained)
    expect(await b.createRetainedStream('sensors/1/temp').toArray()).toStrictEqual([retained])
    expect(await b.createRetainedStreamCombi(['sensors/+/temp', 'sensors/#', 'sensors/1/temp']).toArray()).toStrictEqual([retained])
    await b.storeRetained({ ...retained, payload: Buffer.alloc(0) })
    expect(await a.createRetainedStream('#').toArray()).toEqual([])
  })

  it('match a wildcard filter by its range of topics, across pages, and no others', async () => {
    const { a, b } = await twoNodes()
    const rooms = Array.from({ length: 230 }, (_, i) => `room/${String(i).padStart(3, '0')}/temp`)
    const others = ['room', 'room/1', 'room/1/temp/x', 'room-b/1/temp', 'roomy/1/temp', 'a/room/1/temp', '$SYS/room/1/temp']
    for (const topic of [...others, ...rooms]) await a.storeRetained({ cmd: 'publish', topic, payload: Buffer.from(topic), qos: 0, retain: true })
    const topics = async (filters: string[]) => (await b.createRetainedStreamCombi(filters).toArray() as StoredPacket[]).map((p) => p.topic)
    expect(await topics(['room/+/temp'])).toEqual(rooms)
    expect((await topics(['room/#'])).sort()).toEqual(['room', 'room/1', 'room/1/temp/x', ...rooms].sort())
    expect((await topics(['+/1/temp'])).sort()).toEqual(['room-b/1/temp', 'roomy/1/temp'])
    // [MQTT-4.7.2-1] a filter starting with a wildcard does not match '$' topics.
    expect(await topics(['#'])).not.toContain('$SYS/room/1/temp')
    expect(await topics(['$SYS/#'])).toEqual(['$SYS/room/1/temp'])
  })
})

describe('scripts', () => {
  it('are sent again when Redis has forgotten them (a restart, SCRIPT FLUSH)', async () => {
    const { a, b } = await twoNodes()
    await a.putWill({ id: 'c' }, { cmd: 'publish', topic: 'gone', payload: bytes, qos: 0 })
    await redis.script('FLUSH')
    expect(await b.claimWill({ clientId: 'c', brokerId: 'node-a' })).toMatchObject({ topic: 'gone', payload: bytes })
    // A fan-out of several script runs in one pipeline.
    await redis.script('FLUSH')
    const subs = Array.from({ length: 1500 }, (_, i) => ({ clientId: `fan-${i}` }))
    await a.outgoingEnqueueCombi(subs, { cmd: 'publish', topic: 't', payload: bytes, qos: 1, brokerId: 'node-a', brokerCounter: 1 })
    expect(await b.outgoingStream({ id: 'fan-1499' }).toArray()).toMatchObject([{ topic: 't', payload: bytes }])
  })
})

describe('key prefixes', () => {
  it('keep two stores on one Redis apart, every key under its own prefix', async () => {
    const x = await node('node-x', 'iso-x:', mqemitter())
    const y = await node('node-y', 'iso-y:', mqemitter())
    await x.storeRetained({ cmd: 'publish', topic: 't', payload: bytes, qos: 0, retain: true })
    await x.addSubscriptions({ id: 'c' }, [{ topic: 't', qos: 1 }])
    await x.outgoingEnqueue({ clientId: 'c' }, { cmd: 'publish', topic: 't', payload: bytes, qos: 1, brokerId: 'node-x', brokerCounter: 1 })
    await x.incomingStorePacket({ id: 'c' }, { cmd: 'publish', topic: 't', payload: bytes, qos: 2, messageId: 1 })
    await x.putWill({ id: 'c' }, { cmd: 'publish', topic: 'gone', payload: bytes, qos: 0 })

    expect(await y.createRetainedStream('#').toArray()).toEqual([])
    expect(await y.subscriptionsByClient({ id: 'c' })).toEqual([])
    expect(await y.countOffline()).toEqual({ subsCount: 0, clientsCount: 0 })
    await y.reloadSubscriptions()
    expect(await y.subscriptionsByTopic('t')).toEqual([])
    expect(await y.outgoingStream({ id: 'c' }).toArray()).toEqual([])
    await expect(y.incomingGetPacket({ id: 'c' }, { messageId: 1 })).rejects.toThrow('no such packet')
    expect(await y.getWill({ id: 'c' })).toBeUndefined()
    expect(await y.streamWill().toArray()).toEqual([])

    const keys = await redis.keys('iso-*')
    expect(keys.length).toBeGreaterThan(0)
    expect(keys.filter((k) => !k.startsWith('iso-x:session:'))).toEqual([])
  })

  it("refuses a client with an ioredis keyPrefix of its own, which the scripts' own keys would miss", async () => {
    const prefixed = new Redis(server.url, { keyPrefix: 'other:', lazyConnect: true })
    expect(() => new RedisSessionStore({ redis: prefixed })).toThrow(/keyPrefix/)
    prefixed.disconnect()
  })
})

describe('subscriptions', () => {
  const sub = (topic: string, clientId = 'c1') => ({ clientId, topic, qos: 1, rh: undefined, rap: undefined, nl: undefined })

  it("keeps every node's trie in step through the broker", async () => {
    const { a, b } = await twoNodes()
    await b.addSubscriptions({ id: 'c1' }, [{ topic: 'x/+', qos: 1 }, { topic: 'y', qos: 0 }])
    expect(await a.subscriptionsByTopic('x/1')).toEqual([sub('x/+')])
    expect(await a.countOffline()).toEqual({ subsCount: 1, clientsCount: 1 })
    await a.cleanSubscriptions({ id: 'c1' })
    expect(await b.subscriptionsByTopic('x/1')).toEqual([])
    expect(await b.countOffline()).toEqual({ subsCount: 0, clientsCount: 0 })
  })

  it('does not hang a subscription change whose broadcast never comes back', async () => {
    const connection = new Redis(server.url, { enableAutoPipelining: true })
    connections.push(connection)
    const store = new RedisSessionStore({ redis: connection, keyPrefix: `test-${++prefixes}:`, broadcastWait: 50 })
    stores.push(store)
    // A broker whose publishes go nowhere.
    const ok = (...args: unknown[]) => (args.at(-1) as () => void)()
    const cutOff = { id: 'cut-off', publish: ok, subscribe: ok, unsubscribe: ok }
    await store.setup(cutOff)
    await store.addSubscriptions({ id: 'c1' }, [{ topic: 'x/+', qos: 1 }])
    expect(await store.subscriptionsByTopic('x/1')).toEqual([sub('x/+')])
    await store.removeSubscriptions({ id: 'c1' }, ['x/+'])
    expect(await store.subscriptionsByTopic('x/1')).toEqual([])
    expect(await store.countOffline()).toEqual({ subsCount: 0, clientsCount: 0 })
  })

  it('rebuilds the trie from Redis on reloadSubscriptions, after broadcasts were lost', async () => {
    const { a, b } = await twoNodes({ sharedEmitter: false })
    await b.addSubscriptions({ id: 'c1' }, [{ topic: 'x/+', qos: 1 }, { topic: 'y', qos: 0 }])
    await b.addSubscriptions({ id: 'c2' }, [{ topic: 'x/#', qos: 2, rh: 1, rap: true, nl: false, subscriptionIdentifier: 3 }])
    expect(await a.subscriptionsByTopic('x/1')).toEqual([])

    await a.reloadSubscriptions()
    const matched = await a.subscriptionsByTopic('x/1')
    expect(matched).toHaveLength(2)
    expect(matched).toEqual(expect.arrayContaining([sub('x/+'), { clientId: 'c2', topic: 'x/#', qos: 2, rh: 1, rap: true, nl: false }]))
    expect(await a.subscriptionsByTopic('y')).toEqual([])
    expect(await a.countOffline()).toEqual({ subsCount: 2, clientsCount: 2 })

    await b.removeSubscriptions({ id: 'c1' }, ['x/+'])
    await b.cleanSubscriptions({ id: 'c2' })
    expect(await a.subscriptionsByTopic('x/1')).toHaveLength(2)
    await a.reloadSubscriptions()
    expect(await a.subscriptionsByTopic('x/1')).toEqual([])
  })

  it('keeps the changes heard while a reload runs', async () => {
    const { a, b } = await twoNodes()
    await b.addSubscriptions({ id: 'c1' }, [{ topic: 'old', qos: 1 }])
    // Node B changes c1's subscriptions right after node A's reload has read
    // them (in a script, on A's own connection).
    const connection = connections[0]! as Redis & { evalshaBuffer: (...args: unknown[]) => Promise<unknown> }
    const evalsha = connection.evalshaBuffer.bind(connection)
    let changed = false
    connection.evalshaBuffer = async (...args: unknown[]) => {
      const reply = await evalsha(...args)
      if (!changed) {
        changed = true
        await b.addSubscriptions({ id: 'c1' }, [{ topic: 'new', qos: 1 }])
        await b.removeSubscriptions({ id: 'c1' }, ['old'])
      }
      return reply
    }
    await a.reloadSubscriptions()
    expect(changed).toBe(true)
    expect(await a.subscriptionsByTopic('new')).toEqual([sub('new')])
    expect(await a.subscriptionsByTopic('old')).toEqual([])
  })

  it('lists the clients of a filter in the order they first subscribed', async () => {
    const { a, b } = await twoNodes()
    for (let i = 0; i < 20; i++) await (i % 2 ? a : b).addSubscriptions({ id: `c${i}` }, [{ topic: i % 3 ? 'f' : 'g', qos: 0 }])
    const expected = Array.from({ length: 20 }, (_, i) => i).filter((i) => i % 3).map((i) => `c${i}`)
    expect(await a.getClientList('f').toArray()).toEqual(expected)
  })
})
