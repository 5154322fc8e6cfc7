import { beforeEach, describe, expect, it } from 'vitest'
import type { TestApp } from './helpers/app.js'
import { end, Inbox } from './helpers/mqtt.js'
import { useApp } from './helpers/use-app.js'

const f = useApp()
let t: TestApp
beforeEach(async () => {
  t = await f.start()
})

describe('one broker behind TCP and WebSocket', () => {
  it('delivers from TCP to WebSocket and back, at QoS 0, 1 and 2', async () => {
    const tcp = await f.connect({ clientId: 'tcp-client' })
    const ws = await f.connect(t.wsUrl, { clientId: 'ws-client' })
    const tcpInbox = new Inbox(tcp)
    const wsInbox = new Inbox(ws)
    await tcp.subscribeAsync('to/tcp/#', { qos: 2 })
    await ws.subscribeAsync('to/ws/#', { qos: 2 })

    for (const qos of [0, 1, 2] as const) {
      await tcp.publishAsync(`to/ws/q${qos}`, `from tcp at ${qos}`, { qos })
      await ws.publishAsync(`to/tcp/q${qos}`, `from ws at ${qos}`, { qos })
    }
    const toWs = await wsInbox.count(3)
    const toTcp = await tcpInbox.count(3)
    expect(toWs.map((m) => [m.topic, m.payload, m.packet.qos])).toEqual([
      ['to/ws/q0', 'from tcp at 0', 0],
      ['to/ws/q1', 'from tcp at 1', 1],
      ['to/ws/q2', 'from tcp at 2', 2],
    ])
    expect(toTcp.map((m) => [m.topic, m.payload, m.packet.qos])).toEqual([
      ['to/tcp/q0', 'from ws at 0', 0],
      ['to/tcp/q1', 'from ws at 1', 1],
      ['to/tcp/q2', 'from ws at 2', 2],
    ])
  })

  it('speaks MQTT 3.1 as well as 3.1.1', async () => {
    const old = await f.connect({ protocolVersion: 3, protocolId: 'MQIsdp', clientId: 'v31' })
    const inbox = new Inbox(old)
    await old.subscribeAsync('v31/+', { qos: 1 })
    const other = await f.connect(t.wsUrl)
    await other.publishAsync('v31/hello', 'hi', { qos: 1 })
    expect((await inbox.on('v31/hello')).payload).toBe('hi')
  })

  it('matches + and #, and keeps wildcards at the first level off $ topics [MQTT-4.7.2-1]', async () => {
    const sub = await f.connect()
    const inbox = new Inbox(sub)
    await sub.subscribeAsync(['#', '+/status', 'home/+/temp'], { qos: 0 })
    const dollar = await f.connect({ clientId: 'dollar-watcher' })
    const dollarInbox = new Inbox(dollar)
    await dollar.subscribeAsync('$events/presence/connected/+')

    const pub = await f.connect({ clientId: 'pub-1' })
    await pub.publishAsync('home/kitchen/temp', '21')
    await pub.publishAsync('done', 'x')
    await inbox.on('done')
    expect(inbox.messages.some((m) => m.topic.startsWith('$'))).toBe(false)
    expect(inbox.messages.filter((m) => m.topic === 'home/kitchen/temp')).toHaveLength(1)
    // The $events topic itself was published: a subscriber that names it gets it.
    expect(JSON.parse((await dollarInbox.on('$events/presence/connected/pub-1')).payload).clientId).toBe('pub-1')
  })

  it('keeps retained messages, replaces them, and deletes them with an empty payload', async () => {
    const pub = await f.connect()
    await pub.publishAsync('r/a', 'first', { qos: 1, retain: true })
    await pub.publishAsync('r/a', 'second', { qos: 1, retain: true })
    await pub.publishAsync('r/b', 'bee', { qos: 1, retain: true })
    await pub.publishAsync('r/b', '', { qos: 1, retain: true })

    const sub = await f.connect(t.wsUrl)
    const inbox = new Inbox(sub)
    await sub.subscribeAsync('r/#', { qos: 1 })
    const [m] = await inbox.count(1)
    expect([m!.topic, m!.payload, m!.packet.retain]).toEqual(['r/a', 'second', true])
    await pub.publishAsync('r/flush', 'x')
    await inbox.on('r/flush')
    expect(inbox.messages.map((x) => x.topic)).toEqual(['r/a', 'r/flush'])
  })

  it('publishes the will of a client that drops, not of one that disconnects', async () => {
    const watcher = await f.connect()
    const inbox = new Inbox(watcher)
    await watcher.subscribeAsync('wills/#', { qos: 1 })

    const polite = await f.connect({ will: { topic: 'wills/polite', payload: Buffer.from('gone'), qos: 1, retain: false } })
    await end(polite)
    const rude = await f.connect({ will: { topic: 'wills/rude', payload: Buffer.from('lost'), qos: 1, retain: false } })
    rude.stream.destroy()

    const will = await inbox.on('wills/rude')
    expect(will.payload).toBe('lost')
    await watcher.publishAsync('wills/end', 'x', { qos: 1 })
    await inbox.on('wills/end')
    expect(inbox.messages.map((m) => m.topic)).not.toContain('wills/polite')
  })

  it('queues QoS 1 and 2 messages for an offline persistent session and drops a clean one', async () => {
    const persistent = await f.connect({ clientId: 'keeper', clean: false })
    await persistent.subscribeAsync('queue/#', { qos: 2 })
    await end(persistent)
    const cleanSub = await f.connect({ clientId: 'forgetter', clean: true })
    await cleanSub.subscribeAsync('queue/#', { qos: 1 })
    await end(cleanSub)

    const pub = await f.connect()
    await pub.publishAsync('queue/1', 'one', { qos: 1 })
    await pub.publishAsync('queue/2', 'two', { qos: 2 })
    await pub.publishAsync('queue/0', 'zero', { qos: 0 })

    const { inbox } = await f.connectWithInbox({ clientId: 'keeper', clean: false })
    await inbox.count(2)
    expect(inbox.messages.map((m) => [m.topic, m.payload, m.packet.qos])).toEqual([
      ['queue/1', 'one', 1],
      ['queue/2', 'two', 2],
    ])

    const { inbox: forgotInbox } = await f.connectWithInbox({ clientId: 'forgetter', clean: true })
    await pub.publishAsync('queue/after', 'x', { qos: 1 })
    // The keeper gets it: the broker routed it. What the forgetter was sent
    // before its own message comes back has arrived by then.
    await inbox.on('queue/after')
    await forgotInbox.flush()
    expect(forgotInbox.messages).toEqual([])
  })
})

describe('overlapping subscriptions', () => {
  it('deliver one copy at the highest granted QoS [MQTT-3.3.5-1]', async () => {
    const sub = await f.connect({ clientId: 'overlap' })
    const inbox = new Inbox(sub)
    await sub.subscribeAsync({ 'a/+/c': { qos: 1 }, 'a/#': { qos: 0 } })
    const pub = await f.connect()
    await pub.publishAsync('a/b/c', 'hi', { qos: 1 })
    await pub.publishAsync('a/end', 'x', { qos: 1 })
    await inbox.on('a/end')
    const copies = inbox.messages.filter((m) => m.topic === 'a/b/c')
    expect(copies).toHaveLength(1)
    expect(copies[0]!.packet.qos).toBe(1)
  })

  it('keep a persistent session connected and its queue consistent when a wildcard and its exact topic overlap', async () => {
    const { client: sub, inbox } = await f.connectWithInbox({ clientId: 'overlap-persistent', clean: false })
    await sub.subscribeAsync({ 'a/#': { qos: 1 }, 'a/b': { qos: 0 } })
    const pub = await f.connect()
    await pub.publishAsync('a/b', 'one', { qos: 1 })
    await pub.publishAsync('a/end', 'x', { qos: 1 })
    await inbox.on('a/end')
    expect(sub.connected).toBe(true)
    expect(inbox.messages.filter((m) => m.topic === 'a/b').map((m) => m.payload)).toEqual(['one'])

    // Nothing is left behind to be sent again at the next connection.
    await end(sub)
    const { inbox: later } = await f.connectWithInbox({ clientId: 'overlap-persistent', clean: false })
    await pub.publishAsync('a/after', 'y', { qos: 1 })
    await later.on('a/after')
    expect(later.messages.map((m) => m.topic)).toEqual(['a/after'])
  })

  it('never deliver above the granted QoS through a wildcard', async () => {
    const sub = await f.connect()
    const inbox = new Inbox(sub)
    await sub.subscribeAsync('w/+', { qos: 1 })
    const pub = await f.connect()
    await pub.publishAsync('w/x', 'hi', { qos: 2 })
    expect((await inbox.on('w/x')).packet.qos).toBe(1)
  })
})

describe('ordering across QoS levels', () => {
  it('delivers a QoS 1 message even when a later QoS 0 one overtakes it', async () => {
    // The QoS 1 message waits on the session store; the QoS 0 one does not.
    const { client: sub, inbox } = await f.connectWithInbox({ clientId: 'mixed-qos', clean: false })
    await sub.subscribeAsync('mix/#', { qos: 1 })
    // As the router publishes a dead-letter event and then a rule's errorAction does.
    const publish = (topic: string, payload: string, qos: 0 | 1) =>
      t.app.broker.aedes.publish({ cmd: 'publish', topic, payload: Buffer.from(payload), qos, retain: false, dup: false }, () => {})
    for (let i = 0; i < 20; i++) {
      publish(`mix/${i}`, 'q1', 1)
      publish(`mix/${i}`, 'q0', 0)
    }
    await inbox.count(40)
    expect(inbox.messages.filter((m) => m.payload === 'q1')).toHaveLength(20)
    expect(inbox.messages.filter((m) => m.payload === 'q0')).toHaveLength(20)
  })
})

describe('$ topics', () => {
  it('are refused to clients: a forged one is acknowledged and delivered to no one, and the forger stays connected', async () => {
    const bystander = await f.connect()
    const inbox = new Inbox(bystander)
    await bystander.subscribeAsync('$events/presence/#')
    await bystander.subscribeAsync('still/here')
    const forger = await f.connect({ clientId: 'forger' })
    await forger.publishAsync('$events/presence/connected/ceo', '{}', { qos: 1 })
    expect(forger.connected).toBe(true)
    await bystander.publishAsync('still/here', 'yes', { qos: 1 })
    await inbox.on('still/here')
    expect(inbox.messages.some((m) => m.topic === '$events/presence/connected/ceo')).toBe(false)
  })
})
