import { Aedes } from 'aedes'
import { once } from 'node:events'
import { createServer, type AddressInfo, type Server } from 'node:net'
import type { MqttClient } from 'mqtt'
import { afterEach, beforeEach, expect, it } from 'vitest'
import { connect, connectWithInbox, end } from '../../test/helpers/mqtt.js'
import { createSqlitePersistence, type SqlitePersistence } from './index.js'

// Aedes with this persistence, on the paths where the store's answers decide
// what a client sees. All but the overlapping-subscriptions case fail with
// Aedes' own memory persistence; that one fails if duplicate deliveries are
// not cleared.

let persistence: SqlitePersistence
let broker: Aedes
let server: Server
let url: string
const clients: MqttClient[] = []

beforeEach(async () => {
  persistence = createSqlitePersistence()
  broker = await Aedes.createBroker({ persistence })
  server = createServer(broker.handle)
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  url = `mqtt://127.0.0.1:${(server.address() as AddressInfo).port}`
})
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => end(c, true)))
  await new Promise<void>((resolve) => broker.close(() => resolve()))
  server.close()
  await persistence.destroy()
})

async function open(options = {}) {
  const client = await connect(url, options)
  clients.push(client)
  return client
}
async function openWithInbox(options = {}) {
  const opened = await connectWithInbox(url, options)
  clients.push(opened.client)
  return opened
}
/** Disconnects a client and waits until the broker has handled everything it sent. */
async function leave(client: MqttClient, id: string) {
  const gone = new Promise<void>((resolve) => {
    broker.on('clientDisconnect', function done(c) {
      if (c.id !== id) return
      broker.off('clientDisconnect', done)
      resolve()
    })
  })
  await end(client)
  await gone
}
async function queueOf(clientId: string) {
  return (await persistence.outgoingStream({ id: clientId }).toArray()) as Array<{ topic: string }>
}

it("delivers to a persistent '+' subscriber a topic with an empty level, and keeps the connection", async () => {
  const { client: sub, inbox } = await openWithInbox({ clientId: 'sub', clean: false })
  await sub.subscribeAsync('a/+/b', { qos: 1 })
  const pub = await open()
  // [MQTT-4.7.1-3] '+' matches the empty level: Aedes delivers it live, so the
  // store must have queued it too, or Aedes drops the subscriber's connection.
  await pub.publishAsync('a//b', 'empty level', { qos: 1 })
  expect((await inbox.on('a//b')).payload).toBe('empty level')
  expect(sub.connected).toBe(true)
  await leave(sub, 'sub')
  expect(await queueOf('sub')).toEqual([])
})

it("keeps '$' topics from '#' subscribers, queued or retained [MQTT-4.7.2-1]", async () => {
  const sub = await open({ clientId: 'sub', clean: false })
  await sub.subscribeAsync('#', { qos: 1 })
  await leave(sub, 'sub')
  const publish = (topic: string, retain: boolean) =>
    new Promise<void>((resolve) => broker.publish({ cmd: 'publish', topic, payload: Buffer.from(topic), qos: 1, retain, dup: false }, () => resolve()))
  await publish('$events/x', true)
  await publish('plain', true)

  // The queue is delivered in order: had '$events/x' been queued, it would come first.
  const back = await openWithInbox({ clientId: 'sub', clean: false })
  await back.inbox.on('plain')
  expect(back.inbox.messages.map((m) => m.topic)).toEqual(['plain'])

  // Retained messages are sent in topic order, and '$' sorts first.
  const fresh = await openWithInbox()
  await fresh.client.subscribeAsync('#', { qos: 1 })
  await fresh.inbox.on('plain')
  expect(fresh.inbox.messages.map((m) => m.topic)).toEqual(['plain'])
  const explicit = await openWithInbox()
  await explicit.client.subscribeAsync('$events/#', { qos: 1 })
  expect((await explicit.inbox.on('$events/x')).payload).toBe('$events/x')
})

it('leaves nothing queued when a persistent client with overlapping subscriptions got the message', async () => {
  const { client: sub, inbox } = await openWithInbox({ clientId: 'sub', clean: false })
  await sub.subscribeAsync({ 'x/#': { qos: 1 }, 'x/+': { qos: 1 } })
  const pub = await open()
  await pub.publishAsync('x/y', 'once', { qos: 1 })
  await inbox.on('x/y')
  await leave(sub, 'sub')
  // Aedes queued one copy per subscription and sent one: the other was cleared as a duplicate.
  expect(await queueOf('sub')).toEqual([])

  await pub.publishAsync('x/z', 'while away', { qos: 1 })
  const back = await openWithInbox({ clientId: 'sub', clean: false })
  await back.inbox.on('x/z')
  expect(back.inbox.messages[0]!.topic).toBe('x/z')
})

it('completes QoS 2 messages in flight together to a persistent client, and sends none of them again', async () => {
  const { client: sub, inbox } = await openWithInbox({ clientId: 'sub', clean: false })
  await sub.subscribeAsync('q/#', { qos: 2 })
  const pub = await open()
  // Published together, so the client's PUBRECs for them arrive together.
  await Promise.all([1, 2, 3, 4].map((i) => pub.publishAsync(`q/${i}`, `${i}`, { qos: 2 })))
  await inbox.count(4)
  await leave(sub, 'sub')
  expect(await queueOf('sub')).toEqual([])

  await pub.publishAsync('q/after', 'while away', { qos: 2 })
  const back = await openWithInbox({ clientId: 'sub', clean: false })
  await back.inbox.on('q/after')
  expect(back.inbox.messages.map((m) => m.topic)).toEqual(['q/after'])
})
