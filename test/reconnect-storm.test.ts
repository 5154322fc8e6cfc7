import { beforeEach, expect, it } from 'vitest'
import mqtt from 'mqtt'
import type { TestApp } from './helpers/app.js'
import { end } from './helpers/mqtt.js'
import { useApp } from './helpers/use-app.js'

const f = useApp()
let t: TestApp
beforeEach(async () => {
  // The publisher runs flat out: the per-client publish rate limit is not what is tested here.
  t = await f.start('limits:\n  publishRate: 0\n')
})

// A persistent client reconnecting while QoS 1 messages flow must get its
// CONNACK before any PUBLISH [MQTT-3.2.0-1]; otherwise MQTT.js fails the
// connection. Aedes restores the session's subscriptions before it writes
// the CONNACK, so without Switchyard's fix messages slip in first.
it('survives 50 reconnects of a persistent client under QoS 1 traffic with zero failures', async () => {
  const url = t.mqttUrl
  const first = await f.connect({ clientId: 'stormy', clean: false })
  await first.subscribeAsync('storm/#', { qos: 1 })
  await end(first)

  const publisher = await f.connect({ clientId: 'storm-publisher' })
  let publishing = true
  let published = 0
  const flow = (async () => {
    while (publishing) {
      await Promise.all(Array.from({ length: 20 }, () => publisher.publishAsync(`storm/${published++}`, 'x', { qos: 1 })))
    }
  })()

  const failures: string[] = []
  let received = 0
  for (let i = 0; i < 50; i++) {
    const client = mqtt.connect(url, { clientId: 'stormy', clean: false, reconnectPeriod: 0, connectTimeout: 3000 })
    client.on('message', () => received++)
    const outcome = await new Promise<string>((resolve) => {
      client.once('connect', () => resolve('ok'))
      client.once('error', (err) => resolve(err.message))
      client.once('close', () => resolve('closed before CONNACK'))
    })
    if (outcome !== 'ok') failures.push(`reconnect ${i}: ${outcome}`)
    // Stay long enough to take some of the queue, then drop.
    await new Promise((r) => setTimeout(r, 20))
    await end(client, true)
  }
  publishing = false
  await flow
  expect(failures).toEqual([])
  expect(published).toBeGreaterThan(500)
  expect(received).toBeGreaterThan(0)
})
