import { describe, expect, it } from 'vitest'
import { Inbox } from './helpers/mqtt.js'
import { RawClient } from './helpers/raw-client.js'
import { useApp } from './helpers/use-app.js'

// MQTT 3.1.1 points that the Eclipse Paho interoperability suite checks,
// driven with raw packets.

const f = useApp()

describe('a zero-length client id', () => {
  it('is refused with CONNACK 2 when the client asks to keep its session [MQTT-3.1.3-8]', async () => {
    const app = await f.start()
    const raw = await RawClient.open(Number(new URL(app.mqttUrl).port))
    f.defer(() => raw.drop())
    // mqtt-packet will not encode this CONNECT: "MQTT", level 4, flags 0 (CleanSession=0), keep-alive 60, client id of length 0.
    raw.write(Buffer.from([0x10, 12, 0, 4, 0x4d, 0x51, 0x54, 0x54, 4, 0x00, 0, 60, 0, 0]))
    const connack = await raw.next((p) => p.cmd === 'connack') as { returnCode: number }
    expect(connack.returnCode).toBe(2)
    await raw.closed
    const metrics = await (await fetch(`${app.httpUrl}/metrics`)).text()
    expect(metrics).toContain('switchyard_connections_refused_total{reason="client_id"} 1')
  })

  it('gets a clean session of its own when it asks for one [MQTT-3.1.3-6]', async () => {
    const app = await f.start()
    const raw = await RawClient.connect(Number(new URL(app.mqttUrl).port), { clientId: '', clean: true })
    f.defer(() => raw.drop())
    const connack = await raw.next((p) => p.cmd === 'connack') as { returnCode: number; sessionPresent: boolean }
    expect([connack.returnCode, connack.sessionPresent]).toEqual([0, false])
  })

  it('is a unique id of its own for each such client: two at once both stay connected and get their messages [MQTT-3.1.3-6]', async () => {
    const app = await f.start()
    const port = Number(new URL(app.mqttUrl).port)
    const [a, b] = [await RawClient.connect(port, { clientId: '' }), await RawClient.connect(port, { clientId: '' })]
    f.defer(() => a.drop())
    f.defer(() => b.drop())
    for (const c of [a, b]) expect((await c.next((p) => p.cmd === 'connack') as { returnCode: number }).returnCode).toBe(0)
    a.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'zero/a', qos: 1 }] })
    b.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'zero/b', qos: 1 }] })
    await Promise.all([a, b].map((c) => c.next((p) => p.cmd === 'suback')))
    a.send({ cmd: 'publish', topic: 'zero/b', payload: Buffer.from('to b'), qos: 1, messageId: 2, retain: false, dup: false })
    b.send({ cmd: 'publish', topic: 'zero/a', payload: Buffer.from('to a'), qos: 1, messageId: 2, retain: false, dup: false })
    const got = (c: RawClient, topic: string) => c.next((p) => p.cmd === 'publish' && p.topic === topic) as Promise<{ payload: Buffer }>
    expect([(await got(a, 'zero/a')).payload.toString(), (await got(b, 'zero/b')).payload.toString()]).toEqual(['to a', 'to b'])
  })
})

describe('a PUBLISH the broker refuses', () => {
  const ACL = `
acl:
  - { allow: subscribe, topics: ['#', '$events/acl/#', '$SYS/#'] }
  - { allow: publish, topics: ['open/#', 'flush/#'] }
`
  it('is acknowledged at its QoS and delivered to no one, and announced for auditing: $ topics and ACL denials', async () => {
    await f.start(ACL)
    const reader = await f.connect({ clientId: 'reader' })
    const heard = new Inbox(reader)
    await reader.subscribeAsync(['closed/#', 'open/#', '$events/acl/#', '$SYS/#'], { qos: 1 })
    const writer = await f.connect({ clientId: 'writer' })
    for (const qos of [0, 1, 2] as const) await writer.publishAsync('closed/x', `denied ${qos}`, { qos })
    await writer.publishAsync('$SYS/forged', 'reserved', { qos: 1 })
    await writer.publishAsync('open/x', 'allowed', { qos: 1 })
    expect(writer.connected).toBe(true)
    await heard.on('open/x')
    const audit = await heard.waitFor((ms) => ms.filter((m) => m.topic.startsWith('$events/acl/')).length >= 4)
    await heard.flush()
    // (Aedes announces its own $SYS/{broker id}/new/... messages besides.)
    expect(heard.messages.filter((m) => !m.topic.startsWith('$')).map((m) => [m.topic, m.payload])).toEqual([['open/x', 'allowed']])
    expect(heard.messages.filter((m) => m.topic === '$SYS/forged')).toEqual([])
    const events = audit.filter((m) => m.topic === '$events/acl/denied/writer').map((m) => JSON.parse(m.payload) as Record<string, unknown>)
    expect(events.map((e) => [e.topic, e.qos, e.action])).toEqual([['closed/x', 0, 'publish'], ['closed/x', 1, 'publish'], ['closed/x', 2, 'publish'], ['$SYS/forged', 1, 'publish']])
    const metrics = await (await fetch(`${f.app.httpUrl}/metrics`)).text()
    expect(metrics).toContain('switchyard_acl_denied_total{action="publish"} 4')
  })

  it('closes the connection with acl.deniedPublish: disconnect', async () => {
    await f.start(`
acl:
  deniedPublish: disconnect
  rules:
    - { allow: all, topics: ['open/#'] }
`)
    const writer = await f.connect({ clientId: 'writer' })
    const closed = new Promise<void>((r) => writer.once('close', () => r()))
    writer.publish('closed/x', 'denied', { qos: 1 })
    await closed
  })
})

describe('overlapping subscriptions', () => {
  // [MQTT-3.3.5-1]: one copy, at the highest QoS granted by the matching subscriptions.
  it('deliver one copy at the wildcard\'s QoS 1 beside an exact-name subscription at QoS 0', async () => {
    await f.start()
    const { client: sub, inbox } = await f.connectWithInbox({ clientId: 'exact-and-wild' })
    await sub.subscribeAsync({ 'a/b': { qos: 0 }, 'a/+': { qos: 1 } })
    const pub = await f.connect()
    await pub.publishAsync('a/b', 'one', { qos: 1 })
    await pub.publishAsync('a/end', 'x', { qos: 1 })
    await inbox.on('a/end')
    expect(inbox.messages.filter((m) => m.topic === 'a/b').map((m) => [m.payload, m.packet.qos])).toEqual([['one', 1]])
  })

  it('deliver at QoS 2 beside an exact-name subscription at QoS 1, and a persistent session\'s queue is cleared by the acknowledgements', async () => {
    await f.start()
    const { client: sub, inbox } = await f.connectWithInbox({ clientId: 'exact-and-wild-kept', clean: false })
    await sub.subscribeAsync({ 'k/b': { qos: 1 }, 'k/#': { qos: 2 } })
    const pub = await f.connect()
    await pub.publishAsync('k/b', 'two', { qos: 2 })
    await pub.publishAsync('k/b', 'one', { qos: 1 })
    await pub.publishAsync('k/end', 'x', { qos: 1 })
    await inbox.on('k/end')
    expect(inbox.messages.filter((m) => m.topic === 'k/b').map((m) => [m.payload, m.packet.qos])).toEqual([['two', 2], ['one', 1]])
    expect(sub.connected).toBe(true)

    // Nothing is left in the session to be sent again at the next connection.
    await sub.endAsync()
    const { inbox: later } = await f.connectWithInbox({ clientId: 'exact-and-wild-kept', clean: false })
    await pub.publishAsync('k/after', 'y', { qos: 1 })
    await later.on('k/after')
    expect(later.messages.map((m) => m.topic)).toEqual(['k/after'])
  })
})
