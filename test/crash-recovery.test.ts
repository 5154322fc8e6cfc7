import { beforeEach, describe, expect, it } from 'vitest'
import { end, Inbox } from './helpers/mqtt.js'
import { useApp } from './helpers/use-app.js'

// Each test runs `switchyard start` as a user does, on a SQLite file, and
// kills it: gently (SIGTERM) or not at all gently (SIGKILL).

const f = useApp()
let config: string
beforeEach(() => {
  config = f.writeConfig('listen:\n  mqtt: 0\n  http: 0\nstorage:\n  sqlite: ./data/switchyard.db\n')
})
const start = () => f.startChild(config)

describe.each(['SIGKILL', 'SIGTERM'] as const)('after %s and a restart', (signal) => {
  it('keeps retained messages, subscriptions, offline QoS 1/2 queues and wills', async () => {
    const first = await start()
    const sub = await f.connect(first.mqttUrl, { clientId: 'durable-sub', clean: false })
    await sub.subscribeAsync({ 'orders/#': { qos: 1 }, 'alarms/#': { qos: 2 }, 'wills/#': { qos: 1 } })
    await end(sub)

    const pub = await f.connect(first.mqttUrl)
    await pub.publishAsync('config/site', 'v42', { qos: 1, retain: true })
    const sent: string[] = []
    for (let i = 0; i < 100; i++) {
      // Each publishAsync resolves on the PUBACK: from then on the broker owes the message.
      await pub.publishAsync(`orders/${i}`, `order ${i}`, { qos: 1 })
      sent.push(`order ${i}`)
    }
    await pub.publishAsync('alarms/fire', 'QoS 2 alarm', { qos: 2 })
    await f.connect(first.mqttUrl, { clientId: 'device-with-will', will: { topic: 'wills/device', payload: Buffer.from('device lost'), qos: 1, retain: false } })

    const { code, signal: killedBy } = await first.kill(signal)
    if (signal === 'SIGTERM') expect(code).toBe(0)
    else expect(killedBy).toBe('SIGKILL')
    await f.endClients()

    const second = await start()
    const { client: back, inbox } = await f.connectWithInbox(second.mqttUrl, { clientId: 'durable-sub', clean: false })
    expect(back.connected).toBe(true)
    await inbox.waitFor((m) => m.some((x) => x.topic === 'alarms/fire') && m.filter((x) => x.topic.startsWith('orders/')).length >= 100, 10_000)
    const orders = inbox.messages.filter((m) => m.topic.startsWith('orders/')).map((m) => m.payload)
    expect([...new Set(orders)]).toEqual(sent)
    expect(inbox.messages.find((m) => m.topic === 'alarms/fire')!.packet.qos).toBe(2)

    // The will of the device that was connected when the broker died is sent
    // when the broker comes back (the broker that held the session is gone).
    if (signal === 'SIGKILL') {
      expect((await inbox.on('wills/device')).payload).toBe('device lost')
    }

    // The subscription itself survived: new messages still reach the session.
    const pub2 = await f.connect(second.mqttUrl)
    await pub2.publishAsync('orders/new', 'after restart', { qos: 1 })
    expect((await inbox.on('orders/new')).payload).toBe('after restart')

    const late = await f.connect(second.mqttUrl)
    const lateInbox = new Inbox(late)
    await late.subscribeAsync('config/#', { qos: 1 })
    const retained = await lateInbox.on('config/site')
    expect([retained.payload, retained.packet.retain]).toEqual(['v42', true])
  })
})

describe('shutdown', () => {
  it.each(['SIGINT', 'SIGTERM'] as const)('on %s ends client connections and exits 0 within a few seconds', async (signal) => {
    const child = await start()
    const c = await f.connect(child.mqttUrl, { clientId: 'lingering' })
    const closed = new Promise<void>((r) => c.once('close', () => r()))
    const began = Date.now()
    const { code } = await child.kill(signal)
    expect(code).toBe(0)
    expect(Date.now() - began).toBeLessThan(5000)
    await closed
    expect(child.logs.some((l) => l.msg === 'stopped')).toBe(true)
  })
})
