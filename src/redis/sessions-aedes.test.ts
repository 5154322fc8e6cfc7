import { Aedes } from 'aedes'
import { Redis } from 'ioredis'
import type { MqttClient } from 'mqtt'
import mqemitter from 'mqemitter'
import { once } from 'node:events'
import { createServer, type AddressInfo, type Server } from 'node:net'
import { afterAll, afterEach, beforeAll, beforeEach, expect, it } from 'vitest'
import { connect, connectWithInbox, end } from '../../test/helpers/mqtt.js'
import { startRedis, type RedisServer } from '../../test/helpers/redis.js'
import { waitUntil } from '../../test/helpers/wait.js'
import { RedisSessionStore } from './sessions.js'

// Two Aedes brokers, each with its own store and Redis connection, on one
// Redis and one emitter: two nodes of a cluster. A persistent session moves
// from one to the other with what it had queued and what was in flight.

interface Node {
  broker: Aedes
  store: RedisSessionStore
  url: string
  server: Server
  redis: Redis
}

let redisServer: RedisServer
let nodes: Node[] = []
const clients: MqttClient[] = []
let prefixes = 0

beforeAll(async () => {
  redisServer = await startRedis({ appendfsync: 'everysec' })
})
afterAll(async () => {
  await redisServer?.remove()
})
beforeEach(async () => {
  const mq = mqemitter()
  const keyPrefix = `aedes-${++prefixes}:`
  nodes = [await startNode('node-a', keyPrefix, mq), await startNode('node-b', keyPrefix, mq)]
})
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => end(c, true)))
  for (const node of nodes) {
    await new Promise<void>((resolve) => node.broker.close(() => resolve()))
    node.server.close()
    await node.store.destroy()
    await node.redis.quit()
  }
})

async function startNode(id: string, keyPrefix: string, mq: ReturnType<typeof mqemitter>): Promise<Node> {
  const redis = new Redis(redisServer.url, { enableAutoPipelining: true })
  const store = new RedisSessionStore({ redis, keyPrefix })
  const broker = await Aedes.createBroker({ id, mq, persistence: store as never })
  const server = createServer(broker.handle)
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  return { broker, store, server, redis, url: `mqtt://127.0.0.1:${(server.address() as AddressInfo).port}` }
}

/** Disconnects a client and waits until its node has handled everything it sent. */
async function leave(client: MqttClient, node: Node, id: string) {
  const gone = new Promise<void>((resolve) => {
    node.broker.on('clientDisconnect', function done(c) {
      if (c.id !== id) return
      node.broker.off('clientDisconnect', done)
      resolve()
    })
  })
  await end(client)
  await gone
}

async function queueOf(node: Node, clientId: string) {
  return (await node.store.outgoingStream({ id: clientId }).toArray()) as Array<{ topic: string; messageId?: number }>
}

it('delivers through one node what was queued through the other, and the session goes on there', async () => {
  const [a, b] = nodes as [Node, Node]
  const sub = await connect(a.url, { clientId: 'mover', clean: false })
  clients.push(sub)
  await sub.subscribeAsync('news/#', { qos: 1 })
  await leave(sub, a, 'mover')
  const pub = await connect(a.url)
  clients.push(pub)
  await pub.publishAsync('news/1', Buffer.from([0, 255, 1]), { qos: 1 })

  const back = await connectWithInbox(b.url, { clientId: 'mover', clean: false })
  clients.push(back.client)
  expect((await back.inbox.on('news/1')).packet.payload).toEqual(Buffer.from([0, 255, 1]))
  // The subscription came back with the session on node B; node A queues for it and B delivers.
  await pub.publishAsync('news/2', 'live', { qos: 1 })
  expect((await back.inbox.on('news/2')).payload).toBe('live')
  await waitUntil(() => queueOf(a, 'mover'), { what: 'the queue to be empty once node B had the acks', until: (q) => q.length === 0 })
})

it('lets a node finish a delivery in flight that the other node sent', async () => {
  const [a, b] = nodes as [Node, Node]
  const sub = await connect(a.url, { clientId: 'mover', clean: false })
  clients.push(sub)
  await sub.subscribeAsync('news/#', { qos: 1 })
  // This client takes the message and never acknowledges it.
  const received = new Promise<void>((resolve) => {
    sub.options.customHandleAcks = () => resolve()
  })
  const pub = await connect(a.url)
  clients.push(pub)
  await pub.publishAsync('news/1', 'in flight', { qos: 1 })
  await received
  await leave(sub, a, 'mover')
  const [inFlight] = await queueOf(b, 'mover')
  expect(inFlight).toMatchObject({ topic: 'news/1', messageId: expect.any(Number) })

  const back = await connectWithInbox(b.url, { clientId: 'mover', clean: false })
  clients.push(back.client)
  expect((await back.inbox.on('news/1')).payload).toBe('in flight')
  await waitUntil(() => queueOf(a, 'mover'), { what: 'the queue to be empty once node B had the ack', until: (q) => q.length === 0 })
})

it('clears the copy of an overlapping subscription it did not send, and the next node delivers what came after', async () => {
  const [a, b] = nodes as [Node, Node]
  const { client: sub, inbox } = await connectWithInbox(a.url, { clientId: 'mover', clean: false })
  clients.push(sub)
  await sub.subscribeAsync({ 'x/#': { qos: 1 }, 'x/+': { qos: 1 } })
  const pub = await connect(b.url)
  clients.push(pub)
  await pub.publishAsync('x/y', 'once', { qos: 1 })
  await inbox.on('x/y')
  await leave(sub, a, 'mover')
  // One copy per subscription was queued, one sent: the other was cleared as a duplicate.
  await waitUntil(() => queueOf(b, 'mover'), { what: 'the queue to be empty', until: (q) => q.length === 0 })

  await pub.publishAsync('x/z', 'while away', { qos: 1 })
  const back = await connectWithInbox(b.url, { clientId: 'mover', clean: false })
  clients.push(back.client)
  await back.inbox.on('x/z')
  expect(back.inbox.messages[0]!.topic).toBe('x/z')
})

it('completes QoS 2 messages in flight together, and the next node sends none of them again', async () => {
  const [a, b] = nodes as [Node, Node]
  const { client: sub, inbox } = await connectWithInbox(a.url, { clientId: 'mover', clean: false })
  clients.push(sub)
  await sub.subscribeAsync('q/#', { qos: 2 })
  const pub = await connect(a.url)
  clients.push(pub)
  await Promise.all([1, 2, 3, 4].map((i) => pub.publishAsync(`q/${i}`, `${i}`, { qos: 2 })))
  await inbox.count(4)
  await leave(sub, a, 'mover')
  // The node may still be clearing after the last PUBCOMPs when the client is gone: one round trip each.
  await waitUntil(() => queueOf(b, 'mover'), { what: 'the queue to be empty', until: (q) => q.length === 0 })

  await pub.publishAsync('q/after', 'while away', { qos: 2 })
  const back = await connectWithInbox(b.url, { clientId: 'mover', clean: false })
  clients.push(back.client)
  await back.inbox.on('q/after')
  expect(back.inbox.messages.map((m) => m.topic)).toEqual(['q/after'])
})

it("answers a clean session's acknowledgements without a Redis command", async () => {
  const [a] = nodes as [Node, Node]
  const { client: sub, inbox } = await connectWithInbox(a.url, { clientId: 'clean', clean: true })
  clients.push(sub)
  await sub.subscribeAsync('news/#', { qos: 1 })
  const pub = await connect(a.url)
  clients.push(pub)
  const acked = new Promise<void>((resolve) => {
    let n = 0
    a.broker.on('ack', (_packet, client) => {
      if (client.id === 'clean' && ++n === 5) resolve()
    })
  })
  // What the two CONNECTs and the SUBSCRIBE read (queues, retained messages)
  // is read before this: the publisher's PUBACK comes once its CONNECT is
  // handled, and the node's connection answers in order.
  await pub.publishAsync('warm/up', 'x', { qos: 1 })
  await a.redis.ping()
  const before = await commandsRun(a.redis)
  for (let i = 0; i < 5; i++) await pub.publishAsync(`news/${i}`, 'x', { qos: 1 })
  await inbox.count(5)
  await acked
  // Nothing persistent is involved: no subscription to queue for, no queue to clear.
  expect(await commandsRun(a.redis) - before).toBe(0)
})

/** The commands Redis has run, INFO aside. */
async function commandsRun(redis: Redis): Promise<number> {
  const stats = await redis.info('commandstats')
  let calls = 0
  for (const [, command, n] of stats.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) {
    if (command !== 'info') calls += Number(n)
  }
  return calls
}
