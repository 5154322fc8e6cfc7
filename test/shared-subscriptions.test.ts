import type { MqttClient } from 'mqtt'
import { describe, expect, it } from 'vitest'
import { end, Inbox } from './helpers/mqtt.js'
import { RawClient } from './helpers/raw-client.js'
import { useApp } from './helpers/use-app.js'

// $share/{group}/{filter} from MQTT 3.1.1 clients: each message goes to one
// member of the group, while ordinary subscribers get every message.

const f = useApp()

async function members(n: number, filter: string, options: { qos?: 0 | 1 | 2; prefix?: string } = {}): Promise<Array<{ client: MqttClient; inbox: Inbox }>> {
  const out = []
  for (let i = 0; i < n; i++) {
    const { client, inbox } = await f.connectWithInbox({ clientId: `${options.prefix ?? 'member'}-${i}` })
    const granted = await client.subscribeAsync(filter, { qos: options.qos ?? 1 })
    expect(granted.map((g) => g.qos)).toEqual([options.qos ?? 1])
    out.push({ client, inbox })
  }
  return out
}

async function publishAll(pub: MqttClient, topic: string, from: number, to: number, qos: 0 | 1 = 1): Promise<void> {
  for (let i = from; i < to; i++) await pub.publishAsync(topic, String(i), { qos })
  // The broker handles a client's packets in order: once this one is
  // acknowledged, every message before it has been handed to its subscribers.
  if (qos === 0) await pub.publishAsync('unheard/sync', '', { qos: 1 })
}

const payloads = (inboxes: Inbox[], topic?: string) => inboxes.flatMap((inbox) => inbox.messages.filter((m) => !topic || m.topic === topic).map((m) => m.payload))

describe('a shared subscription', () => {
  it('hands each message to one member, in turn, while an ordinary subscriber gets every message', async () => {
    await f.start()
    const group = await members(3, '$share/workers/jobs/#')
    const { client: watching, inbox: watcher } = await f.connectWithInbox({ clientId: 'watcher' })
    await watching.subscribeAsync('jobs/#', { qos: 1 })
    const pub = await f.connect({ clientId: 'pub' })
    await publishAll(pub, 'jobs/a', 0, 300)
    await watcher.count(300)
    const inboxes = group.map((m) => m.inbox)
    await Promise.all(inboxes.map((inbox) => inbox.flush()))
    const got = payloads(inboxes)
    // Exactly once within the group.
    expect(got.length).toBe(300)
    expect(new Set(got).size).toBe(300)
    for (const inbox of inboxes) expect(Math.abs(inbox.messages.length - 100)).toBeLessThanOrEqual(10)
    expect(watcher.messages.map((m) => m.payload)).toEqual(Array.from({ length: 300 }, (_, i) => String(i)))
  })

  it('gives a member that leaves nothing more: the others take its share', async () => {
    await f.start()
    const group = await members(3, '$share/g/work/+', { qos: 0 })
    const pub = await f.connect({ clientId: 'pub' })
    await publishAll(pub, 'work/1', 0, 30, 0)
    const [a, b, c] = group
    await Promise.all(group.map((m) => m.inbox.flush()))
    expect(payloads(group.map((m) => m.inbox)).length).toBe(30)
    // One unsubscribes, one disconnects.
    await a!.client.unsubscribeAsync('$share/g/work/+')
    const aBefore = a!.inbox.messages.length
    await end(b!.client)
    await publishAll(pub, 'work/1', 30, 90, 0)
    await c!.inbox.waitFor((ms) => ms.filter((m) => Number(m.payload) >= 30).length === 60)
    await a!.inbox.flush()
    expect(a!.inbox.messages.length).toBe(aBefore)
  })

  it('sends a QoS 1 message that its member did not acknowledge before disconnecting to another member', async () => {
    const app = await f.start()
    const port = Number(new URL(app.mqttUrl).port)
    // A member that never acknowledges.
    const silent = await RawClient.connect(port, { clientId: 'silent', clean: true })
    await silent.next((p) => p.cmd === 'connack')
    silent.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: '$share/g/q/#', qos: 1 }] })
    await silent.next((p) => p.cmd === 'suback')
    const [other] = await members(1, '$share/g/q/#')
    const pub = await f.connect({ clientId: 'pub' })
    // Round robin: the first to the silent member, the second to the other.
    await pub.publishAsync('q/1', 'first', { qos: 1 })
    await pub.publishAsync('q/1', 'second', { qos: 1 })
    const held = await silent.next((p) => p.cmd === 'publish') as { payload: Buffer; qos: number }
    expect([held.payload.toString(), held.qos]).toEqual(['first', 1])
    await other!.inbox.on('q/1')
    expect(other!.inbox.messages.map((m) => m.payload)).toEqual(['second'])
    await silent.drop()
    await other!.inbox.waitFor((ms) => ms.length === 2)
    expect(other!.inbox.messages.map((m) => m.payload).sort()).toEqual(['first', 'second'])
  })

  it('keeps a persistent member in the group across reconnects, and queues for it only when no member is connected', async () => {
    await f.start()
    const kept = await f.connect({ clientId: 'kept', clean: false })
    await kept.subscribeAsync('$share/g/p/#', { qos: 1 })
    const [online] = await members(1, '$share/g/p/#')
    await end(kept)
    const pub = await f.connect({ clientId: 'pub' })
    // Another member is connected: none of these waits for the one away.
    await publishAll(pub, 'p/x', 0, 10)
    await online!.inbox.count(10)
    await end(online!.client)
    // Now no member is connected: these wait in the persistent member's session.
    await publishAll(pub, 'p/x', 10, 15)
    const { client: back, inbox } = await f.connectWithInbox({ clientId: 'kept', clean: false })
    await inbox.count(5)
    expect(inbox.messages.map((m) => m.payload)).toEqual(['10', '11', '12', '13', '14'])
    // And the restored subscription goes on taking messages.
    await publishAll(pub, 'p/x', 15, 17)
    await inbox.count(7)
    expect(back.connected).toBe(true)
  })

  it('queues for a persistent member that is away after a restart, when no member is connected', async () => {
    const dir = f.tempDir()
    await f.start('', { dir })
    const member = await f.connect({ clientId: 'kept-over-restart', clean: false })
    await member.subscribeAsync('$share/g/after/#', { qos: 1 })
    await end(member)
    await f.endClients()
    await f.app.close()
    await f.start('', { dir })
    const pub = await f.connect({ clientId: 'pub' })
    await publishAll(pub, 'after/x', 0, 3)
    const { inbox } = await f.connectWithInbox({ clientId: 'kept-over-restart', clean: false })
    await inbox.count(3)
    expect(inbox.messages.map((m) => m.payload)).toEqual(['0', '1', '2'])
  })

  it('stops queueing for a persistent member once its session expired (limits.sessionExpiry)', async () => {
    await f.start('limits:\n  sessionExpiry: 1s\n')
    const { client: watching, inbox: events } = await f.connectWithInbox({ clientId: 'watcher' })
    await watching.subscribeAsync('$events/sessions/expired/+', { qos: 1 })
    const member = await f.connect({ clientId: 'short-lived', clean: false })
    await member.subscribeAsync('$share/g/gone/#', { qos: 1 })
    await end(member)
    await events.on('$events/sessions/expired/short-lived', 10_000)
    const pub = await f.connect({ clientId: 'pub' })
    await publishAll(pub, 'gone/x', 0, 2)
    const { client: back, inbox } = await f.connectWithInbox({ clientId: 'short-lived', clean: false })
    await pub.publishAsync('unheard/after', 'x', { qos: 1 })
    await back.subscribeAsync('flag/#', { qos: 1 })
    await pub.publishAsync('flag/x', 'after', { qos: 1 })
    await inbox.on('flag/x')
    expect(inbox.messages.map((m) => m.topic)).toEqual(['flag/x'])
  })

  it('is a copy of its own beside an ordinary subscription of the same client, at its own QoS, without retained messages', async () => {
    await f.start()
    const pub = await f.connect({ clientId: 'pub' })
    await pub.publishAsync('r/x', 'retained', { qos: 1, retain: true })
    const { client, inbox } = await f.connectWithInbox({ clientId: 'both' })
    await client.subscribeAsync({ '$share/g/r/#': { qos: 2 }, 'r/x': { qos: 0 } })
    await pub.publishAsync('r/x', 'live', { qos: 2 })
    await inbox.waitFor((ms) => ms.filter((m) => m.payload === 'live').length === 2)
    await inbox.flush()
    const copies = inbox.messages.map((m) => [m.payload, m.packet.qos, m.packet.retain])
    // The ordinary subscription's retained message at SUBSCRIBE; the live one twice.
    expect(copies.filter(([p]) => p === 'retained')).toEqual([['retained', 0, true]])
    expect(copies.filter(([p]) => p === 'live').sort()).toEqual([['live', 0, false], ['live', 2, false]])
  })

  it('refuses a malformed $share filter with 0x80 and judges the ACL by the filter after the group', async () => {
    await f.start(`
acl:
  - { deny: subscribe, topics: ['secret/#'] }
  - { allow: all, topics: ['#'] }
`)
    // MQTT.js will not send some of these filters: raw packets.
    const raw = await RawClient.connect(Number(new URL(f.app.mqttUrl).port), { clientId: 'asker', clean: true })
    f.defer(() => raw.drop())
    await raw.next((p) => p.cmd === 'connack')
    // (A group name holding + or # is no valid filter at all: the broker closes the connection [MQTT-4.7.1-2].)
    const filters = ['$share/g', '$share//x', '$share/g/secret/x', '$share/g/open/x']
    raw.send({ cmd: 'subscribe', messageId: 7, subscriptions: filters.map((topic) => ({ topic, qos: 1 as const })) })
    const suback = await raw.next((p) => p.cmd === 'suback') as { granted: number[] }
    expect(suback.granted).toEqual([128, 128, 128, 1])
    raw.send({ cmd: 'pingreq' })
    await raw.next((p) => p.cmd === 'pingresp')
  })
})

describe('sharedSubscriptions.strategy', () => {
  it('random: every message to one member, each member some', async () => {
    await f.start('sharedSubscriptions: { strategy: random }')
    const group = await members(3, '$share/g/rand/#', { qos: 0 })
    const pub = await f.connect({ clientId: 'pub' })
    await publishAll(pub, 'rand/x', 0, 300, 0)
    const inboxes = group.map((m) => m.inbox)
    await Promise.all(inboxes.map((inbox) => inbox.flush()))
    expect(new Set(payloads(inboxes)).size).toBe(300)
    expect(payloads(inboxes).length).toBe(300)
    // Each gets a share: 300 fair coin rolls put fewer than 50 on one side with odds below 1e-9.
    for (const inbox of inboxes) expect(inbox.messages.length).toBeGreaterThan(50)
  })

  it('sticky, per group: each publisher\'s messages go to one member, in order', async () => {
    await f.start('sharedSubscriptions: { groups: { orders: sticky } }')
    const group = await members(3, '$share/orders/o/#', { qos: 1 })
    const publishers = await Promise.all([0, 1, 2, 3].map((i) => f.connect({ clientId: `pub-${i}` })))
    for (let i = 0; i < 20; i++) {
      for (const [n, pub] of publishers.entries()) await pub.publishAsync('o/x', `${n}:${i}`, { qos: 1 })
    }
    const inboxes = group.map((m) => m.inbox)
    await Promise.all(inboxes.map((inbox) => inbox.flush()))
    expect(payloads(inboxes).length).toBe(80)
    for (let n = 0; n < 4; n++) {
      const holders = inboxes.filter((inbox) => inbox.messages.some((m) => m.payload.startsWith(`${n}:`)))
      expect(holders).toHaveLength(1)
      expect(holders[0]!.messages.filter((m) => m.payload.startsWith(`${n}:`)).map((m) => m.payload)).toEqual(Array.from({ length: 20 }, (_, i) => `${n}:${i}`))
    }
  })

  it('is refused when unknown, with the place in the file', async () => {
    await expect(f.start('sharedSubscriptions: { strategy: hash }')).rejects.toThrow(/sharedSubscriptions\.strategy.*round_robin, random or sticky/)
  })
})
