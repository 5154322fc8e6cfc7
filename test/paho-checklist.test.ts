import mqtt, { type IClientOptions, type IConnackPacket, type MqttClient } from 'mqtt'
import type { IConnectPacket, IPublishPacket, Packet } from 'mqtt-packet'
import { describe, expect, it } from 'vitest'
import { end, Inbox } from './helpers/mqtt.js'
import { RawClient } from './helpers/raw-client.js'
import { useApp } from './helpers/use-app.js'
import { within } from './helpers/wait.js'

// The behaviours that the Eclipse Paho MQTT 3.1.1 interoperability suite
// (paho.mqtt.testing, interoperability/client_test.py) checks, one test per
// scenario, written from the behaviour. The broker runs with the suite's
// config: subscriptions to test/nosubscribe are refused. The zero-length
// client id scenario is in mqtt-conformance.test.ts.

const CONFIG = `
acl:
  - { deny: subscribe, topics: ['test/nosubscribe'] }
  - { allow: all, topics: ['#', '$SYS/#', '$test/#', '$events/#'] }
`

const f = useApp()

async function start(): Promise<number> {
  return (await f.start(CONFIG)).addresses.mqtt.port
}

/** An MQTT.js client with an Inbox from the first packet on, and the CONNACK it got. */
function connectSeeing(options: IClientOptions): Promise<{ client: MqttClient; inbox: Inbox; connack: IConnackPacket }> {
  const client = mqtt.connect(f.app.mqttUrl, { reconnectPeriod: 0, connectTimeout: 5000, ...options })
  f.defer(() => end(client, true))
  const inbox = new Inbox(client)
  return within(new Promise((resolve, reject) => {
    client.once('connect', (connack) => resolve({ client, inbox, connack }))
    client.once('error', reject)
  }), 5000, `a CONNACK for ${options.clientId ?? 'a client'}`)
}

async function rawConnect(port: number, clientId: string, extra: Partial<IConnectPacket> = {}): Promise<RawClient> {
  const raw = await RawClient.connect(port, { clientId, ...extra })
  f.defer(() => raw.drop())
  const connack = await raw.next((p) => p.cmd === 'connack') as IConnackPacket
  expect(connack.returnCode).toBe(0)
  return raw
}

const publishes = (raw: RawClient, from = 0) => raw.packets.slice(from).filter((p): p is IPublishPacket => p.cmd === 'publish')

describe('basic', () => {
  // [MQTT-3.2.2-1] no session present after a clean connect; [MQTT-3.3.5-1]
  // delivery at the publish QoS under a QoS 2 subscription; [MQTT-3.1.0-2] a
  // second CONNECT is a protocol violation; [MQTT-3.1.2-1] a wrong protocol
  // name may be refused by closing the connection.
  it('connects, subscribes, gets QoS 0, 1 and 2 back, and refuses a second CONNECT and a wrong protocol name', async () => {
    const port = await start()
    const first = await connectSeeing({ clientId: 'basic' })
    await end(first.client)
    const { client, inbox, connack } = await connectSeeing({ clientId: 'basic' })
    expect(connack.sessionPresent).toBe(false)
    await client.subscribeAsync('TopicA', { qos: 2 })
    for (const qos of [0, 1, 2] as const) await client.publishAsync('TopicA', `qos ${qos}`, { qos })
    await inbox.count(3)
    expect(inbox.messages.map((m) => [m.payload, m.packet.qos])).toEqual([['qos 0', 0], ['qos 1', 1], ['qos 2', 2]])
    await end(client)

    const twice = await rawConnect(port, 'twice')
    twice.send({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, keepalive: 60, clientId: 'twice' })
    await within(twice.closed, 5000, 'the broker to close a connection that sent a second CONNECT')

    const wrong = await RawClient.open(port)
    f.defer(() => wrong.drop())
    // CONNECT with protocol name "hj", level 4, CleanSession=1, keep-alive 60, client id "x".
    wrong.write(Buffer.from([0x10, 11, 0, 2, 0x68, 0x6a, 4, 0x02, 0, 60, 0, 1, 0x78]))
    await within(wrong.closed, 5000, 'the broker to close a connection with a wrong protocol name')
    expect(wrong.packets.filter((p) => p.cmd === 'connack' && p.returnCode === 0)).toEqual([])
  })
})

describe('retained messages', () => {
  // [MQTT-3.3.1-5] a retained message is stored and [MQTT-3.3.1-6] sent to a
  // new matching subscription with RETAIN set [MQTT-3.3.1-8]; [MQTT-3.3.1-10]
  // a zero-length retained publish removes it and [MQTT-3.3.1-11] is not
  // stored itself.
  it('are sent with the retain flag to a new wildcard subscription, and zero-length ones clear them', async () => {
    await start()
    const topics = ['TopicA/B', 'Topic/C', 'TopicA/C']
    const pub = await f.connect({ clientId: 'setter' })
    for (const [qos, topic] of topics.entries()) await pub.publishAsync(topic, `qos ${qos}`, { qos: qos as 0 | 1 | 2, retain: true })

    const { client: sub, inbox } = await connectSeeing({ clientId: 'reader' })
    await sub.subscribeAsync('+/+', { qos: 2 })
    await inbox.count(3)
    expect(inbox.messages.map((m) => [m.topic, m.payload, m.packet.qos, m.packet.retain]).sort()).toEqual([
      ['Topic/C', 'qos 1', 1, true], ['TopicA/B', 'qos 0', 0, true], ['TopicA/C', 'qos 2', 2, true],
    ])
    await end(sub)

    for (const [qos, topic] of topics.entries()) await pub.publishAsync(topic, '', { qos: qos as 0 | 1 | 2, retain: true })
    // The marker is the one retained message left under +/+: once it arrives, the others would have.
    await pub.publishAsync('marker/x', 'end', { qos: 1, retain: true })
    const { client: later, inbox: laterInbox } = await connectSeeing({ clientId: 'reader-2' })
    await later.subscribeAsync('+/+', { qos: 2 })
    await laterInbox.on('marker/x')
    await laterInbox.flush()
    expect(laterInbox.messages.map((m) => m.topic)).toEqual(['marker/x'])
  })
})

describe('offline message queueing', () => {
  // [MQTT-3.1.2-4] a persistent session survives the connection; [MQTT-3.1.2-5]
  // its QoS 1 and 2 messages are kept for it while it is away (QoS 0 ones may
  // be: Switchyard does not, which Paho accepts); [MQTT-3.2.2-2] the CONNACK
  // says the session is present.
  it('keeps the QoS 1 and 2 messages of a persistent session while it is away', async () => {
    await start()
    const { client: away } = await connectSeeing({ clientId: 'away', clean: false })
    await away.subscribeAsync('+/+', { qos: 2 })
    await end(away)

    const pub = await f.connect({ clientId: 'sender' })
    await pub.publishAsync('TopicA/B', 'qos 0', { qos: 0 })
    await pub.publishAsync('Topic/C', 'qos 1', { qos: 1 })
    await pub.publishAsync('TopicA/C', 'qos 2', { qos: 2 })

    const { inbox, connack } = await connectSeeing({ clientId: 'away', clean: false })
    expect(connack.sessionPresent).toBe(true)
    await inbox.count(2)
    await pub.publishAsync('marker/x', 'end', { qos: 1 })
    await inbox.on('marker/x')
    // Sent for the first time: DUP clear [MQTT-3.3.1-1].
    expect(inbox.messages.map((m) => [m.topic, m.payload, m.packet.qos, m.packet.dup])).toEqual([
      ['Topic/C', 'qos 1', 1, false], ['TopicA/C', 'qos 2', 2, false], ['marker/x', 'end', 1, false],
    ])
  })
})

describe('will message', () => {
  // [MQTT-3.1.2-8] the will is published when the network connection closes
  // without a DISCONNECT; [MQTT-3.1.2-10] a DISCONNECT removes it unsent.
  it('is published when the socket closes without DISCONNECT, and not after DISCONNECT', async () => {
    const port = await start()
    const watcher = await f.connect({ clientId: 'watcher' })
    const inbox = new Inbox(watcher)
    await watcher.subscribeAsync(['wills/#', '$events/presence/disconnected/+'], { qos: 2 })
    const will = (name: string) => ({ will: { topic: `wills/${name}`, payload: Buffer.from(`${name} gone`), qos: 2 as const, retain: false } })

    const polite = await rawConnect(port, 'polite', will('polite'))
    await polite.disconnect()
    await inbox.on('$events/presence/disconnected/polite')
    const killed = await rawConnect(port, 'killed', { ...will('killed'), keepalive: 2 })
    await killed.drop()
    expect((await inbox.on('wills/killed')).payload).toBe('killed gone')
    await inbox.flush()
    expect(inbox.messages.filter((m) => m.topic.startsWith('wills/')).map((m) => m.topic)).toEqual(['wills/killed'])
  })
})

describe('overlapping subscriptions', () => {
  // [MQTT-3.3.5-1] one copy at the highest QoS granted among the matching
  // subscriptions (Paho also accepts a copy per subscription).
  it('deliver one copy of a QoS 2 publish at QoS 2 under Topic/# at 2 and Topic/+ at 1', async () => {
    await start()
    const { client, inbox } = await connectSeeing({ clientId: 'overlap' })
    await client.subscribeAsync({ 'Topic/#': { qos: 2 }, 'Topic/+': { qos: 1 } })
    await client.publishAsync('Topic/x', 'overlapping topic filters', { qos: 2 })
    await client.publishAsync('Topic/y/end', 'marker', { qos: 1 })
    await inbox.on('Topic/y/end')
    expect(inbox.messages.filter((m) => m.topic === 'Topic/x').map((m) => m.packet.qos)).toEqual([2])
  })

  // [MQTT-3.3.5-1] as above, when one of the subscriptions is the exact topic name.
  it('deliver one copy of a QoS 1 publish at QoS 1 under a/b at 0 and a/+ at 1', async () => {
    await start()
    const { client, inbox } = await connectSeeing({ clientId: 'overlap-exact' })
    await client.subscribeAsync({ 'a/b': { qos: 0 }, 'a/+': { qos: 1 } })
    await client.publishAsync('a/b', 'exact and wildcard', { qos: 1 })
    await client.publishAsync('a/end', 'marker', { qos: 1 })
    await inbox.on('a/end')
    expect(inbox.messages.filter((m) => m.topic === 'a/b').map((m) => m.packet.qos)).toEqual([1])
  })
})

describe('keepalive', () => {
  // [MQTT-3.1.2-24] a client silent for 1.5 × its keep-alive is disconnected;
  // [MQTT-3.1.2-8] that publishes its will.
  it('disconnects a silent client after about one and a half keep-alives and publishes its will', async () => {
    const port = await start()
    const watcher = await f.connect({ clientId: 'watcher' })
    const inbox = new Inbox(watcher)
    await watcher.subscribeAsync('wills/#', { qos: 2 })
    const silent = await rawConnect(port, 'silent', { keepalive: 1, will: { topic: 'wills/silent', payload: Buffer.from('keepalive expiry'), qos: 1, retain: false } })
    const connackAt = performance.now()
    await within(silent.closed, 5000, 'the broker to close a client silent past its keep-alive')
    expect(performance.now() - connackAt).toBeGreaterThanOrEqual(1000)
    expect((await inbox.on('wills/silent')).payload).toBe('keepalive expiry')
  })
})

describe('redelivery on reconnect', () => {
  // [MQTT-4.4.0-1] unacknowledged PUBLISH and PUBREL packets are resent, with
  // their packet identifiers, when a persistent session reconnects;
  // [MQTT-3.3.1-1] a resent PUBLISH has DUP set; [MQTT-4.3.3-2] after PUBREC,
  // the broker's side of the QoS 2 exchange is the PUBREL.
  it('resends unacknowledged QoS 1 and 2 messages with DUP set, and the PUBREL of one whose PUBREC was sent', async () => {
    const port = await start()
    const slow = await rawConnect(port, 'slow', { clean: false })
    slow.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'TopicA/+', qos: 2 }] })
    await slow.next((p) => p.cmd === 'suback')
    const pub = await f.connect({ clientId: 'sender' })
    await pub.publishAsync('TopicA/B', 'qos 1', { qos: 1 })
    await pub.publishAsync('TopicA/C', 'qos 2', { qos: 2 })
    await pub.publishAsync('TopicA/D', 'qos 2 received', { qos: 2 })
    await slow.next(() => publishes(slow).length === 3, 5000, 'three PUBLISH packets')
    const sent = new Map(publishes(slow).map((p) => [p.topic, p.messageId!]))
    slow.send({ cmd: 'pubrec', messageId: sent.get('TopicA/D')! })
    await slow.next((p) => p.cmd === 'pubrel' && p.messageId === sent.get('TopicA/D'))
    await slow.disconnect()

    const again = await RawClient.connect(port, { clientId: 'slow', clean: false })
    f.defer(() => again.drop())
    const connack = await again.next((p) => p.cmd === 'connack') as IConnackPacket
    expect([connack.returnCode, connack.sessionPresent]).toEqual([0, true])
    await again.next(() => publishes(again).length === 2 && again.packets.some((p) => p.cmd === 'pubrel'), 5000, 'two PUBLISH and a PUBREL')
    expect(publishes(again).map((p) => [p.topic, p.qos, p.dup, p.messageId])).toEqual([
      ['TopicA/B', 1, true, sent.get('TopicA/B')], ['TopicA/C', 2, true, sent.get('TopicA/C')],
    ])
    expect(again.packets.filter((p) => p.cmd === 'pubrel').map((p) => (p as Packet & { messageId: number }).messageId)).toEqual([sent.get('TopicA/D')])
  })
})

describe('$ topics', () => {
  // [MQTT-4.7.2-1] a filter starting with a wildcard does not match a topic
  // starting with $; [MQTT-4.7.2] $ topics are the broker's: a client's
  // publish there is acknowledged and delivered to no one (acl.deniedPublish: drop).
  it('are not matched by #, and a client publish to one is acknowledged, kept connected and delivered to no one', async () => {
    await start()
    const { client: all, inbox } = await connectSeeing({ clientId: 'everything' })
    await all.subscribeAsync(['#', '$test/#'], { qos: 1 })
    const { client: sys, inbox: sysInbox } = await connectSeeing({ clientId: 'sys' })
    await sys.subscribeAsync('$SYS/#', { qos: 0 })
    await f.connect({ clientId: 'newcomer' })
    await sysInbox.waitFor((ms) => ms.some((m) => m.topic.startsWith('$SYS/') && m.payload === 'newcomer'), 5000, 'the $SYS announcement of newcomer')

    await all.publishAsync('$test/x', 'forged', { qos: 1 })
    expect(all.connected).toBe(true)
    await all.publishAsync('TopicA/B', 'marker', { qos: 1 })
    await inbox.on('TopicA/B')
    await inbox.flush()
    expect(inbox.messages.map((m) => m.topic)).toEqual(['TopicA/B'])
  })
})

describe('subscribe failure', () => {
  // [MQTT-3.9.3-1] a return code per filter, in order; 0x80 for a refused
  // one; [MQTT-3.8.4-3..5] the others are granted and the connection stays.
  it('answers 0x80 for test/nosubscribe, grants the other filters and keeps the connection', async () => {
    const port = await start()
    const raw = await rawConnect(port, 'refused')
    raw.send({ cmd: 'subscribe', messageId: 5, subscriptions: [{ topic: 'test/nosubscribe', qos: 2 }, { topic: 'test/allowed', qos: 1 }] })
    const suback = await raw.next((p) => p.cmd === 'suback') as Packet & { messageId: number; granted: number[] }
    expect([suback.messageId, suback.granted]).toEqual([5, [0x80, 1]])
    raw.send({ cmd: 'publish', topic: 'test/allowed', payload: Buffer.from('still here'), qos: 1, messageId: 6, retain: false, dup: false })
    const back = await raw.next((p) => p.cmd === 'publish' && p.topic === 'test/allowed') as IPublishPacket
    expect(back.payload.toString()).toBe('still here')
  })
})

describe('unsubscribe', () => {
  // [MQTT-3.10.4-1] the filter's subscription is deleted, [MQTT-3.10.4-2] no
  // new messages are sent for it, [MQTT-3.10.4-4] UNSUBACK with its packet
  // identifier, [MQTT-3.10.4-5] even when no subscription was deleted.
  it('stops one filter, leaves the others, and answers UNSUBACK for a filter never subscribed', async () => {
    const port = await start()
    const { client: sub, inbox } = await connectSeeing({ clientId: 'unsub' })
    await sub.subscribeAsync(['TopicA', 'TopicA/B', 'Topic/C'], { qos: 2 })
    await sub.unsubscribeAsync('TopicA')
    const pub = await f.connect({ clientId: 'sender' })
    for (const topic of ['TopicA', 'TopicA/B', 'Topic/C']) await pub.publishAsync(topic, '', { qos: 1 })
    await inbox.count(2)
    await inbox.flush()
    expect(inbox.messages.map((m) => m.topic)).toEqual(['TopicA/B', 'Topic/C'])

    const raw = await rawConnect(port, 'never')
    raw.send({ cmd: 'unsubscribe', messageId: 9, unsubscriptions: ['never/subscribed'] })
    expect(await raw.next((p) => p.cmd === 'unsuback')).toMatchObject({ messageId: 9 })
  })
})
