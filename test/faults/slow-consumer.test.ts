import { connect as connectTcp, type Socket } from 'node:net'
import mqttPacket from 'mqtt-packet'
import type { MqttClient } from 'mqtt'
import { expect, it } from 'vitest'
import { useApp } from '../helpers/use-app.js'
import { within } from '../helpers/wait.js'

// A subscriber that stops reading must not hold up anyone else: the broker
// keeps what it owes that subscriber within bounds and disconnects it after
// the drain timeout, while the others keep their latency.

const f = useApp()

/** A raw subscriber that reads its SUBACK and then never reads again. */
async function stuckSubscriber(port: number, filter: string): Promise<Socket> {
  const socket = connectTcp(port, '127.0.0.1')
  f.defer(() => socket.destroy())
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject))
  socket.on('error', () => {})
  const parser = mqttPacket.parser()
  const suback = new Promise<void>((resolve) => parser.on('packet', (p) => p.cmd === 'suback' && resolve()))
  socket.on('data', (d) => parser.parse(d))
  socket.write(mqttPacket.generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, keepalive: 0, clientId: 'stuck' }))
  socket.write(mqttPacket.generate({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: filter, qos: 0 }] }))
  await suback
  socket.removeAllListeners('data')
  socket.pause()
  return socket
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!
}

/** Round trips of a QoS 0 ping through the broker, one at a time, for `ms`. */
async function pingLatencies(pinger: MqttClient, ms: number): Promise<number[]> {
  const latencies: number[] = []
  const until = performance.now() + ms
  let seq = 0
  while (performance.now() < until) {
    const sent = performance.now()
    const id = String(seq++)
    await within(new Promise<void>((resolve) => {
      const onMessage = (topic: string, payload: Buffer) => {
        if (topic === 'ping/healthy' && payload.toString() === id) {
          pinger.off('message', onMessage)
          resolve()
        }
      }
      pinger.on('message', onMessage)
      pinger.publish('ping/healthy', id, { qos: 0 })
    }), 5000, `ping ${id} to come back`)
    latencies.push(performance.now() - sent)
  }
  return latencies
}

it('disconnects a subscriber that stops reading, with bounded memory, while the others keep their latency', async () => {
  const t = await f.start('limits:\n  publishRate: 0\n  drainTimeout: 2s\n  maxQueuedBytes: 4MB\n')
  const pinger = await f.connect({ clientId: 'pinger' })
  await pinger.subscribeAsync('ping/healthy', { qos: 0 })
  const baseline = await pingLatencies(pinger, 1000)

  // The stuck socket reads nothing, so it would not even see its own end: the broker's lifecycle event tells.
  await pinger.subscribeAsync('$events/presence/disconnected/stuck', { qos: 0 })
  const closed = new Promise<number>((resolve) => pinger.on('message', (topic) => topic.endsWith('/stuck') && resolve(performance.now())))
  await stuckSubscriber(t.addresses.mqtt.port, 'flood/#')
  const flooder = await f.connect({ clientId: 'flooder' })
  const heapBefore = process.memoryUsage().heapUsed
  let flooding = true
  let published = 0
  let heapPeak = heapBefore
  const payload = Buffer.alloc(4096, 120)
  const flood = (async () => {
    while (flooding) {
      // 4 KB messages, as fast as the flooder's own socket takes them.
      for (let i = 0; i < 49; i++, published++) flooder.publish('flood/data', payload, { qos: 0 })
      await flooder.publishAsync('flood/data', payload, { qos: 0 })
      published++
      heapPeak = Math.max(heapPeak, process.memoryUsage().heapUsed)
    }
  })()
  const floodStarted = performance.now()
  const during = await pingLatencies(pinger, 1500)
  const disconnectedAt = await within(closed, 10_000, 'the event that the stuck subscriber was disconnected')
  flooding = false
  await flood

  // The stuck subscriber went after the drain timeout, not before and not much after.
  const afterMs = disconnectedAt - floodStarted
  const p99 = { baseline: percentile(baseline, 99), during: percentile(during, 99) }
  console.log(`slow-consumer: cut off after ${Math.round(afterMs)} ms, ${Math.round((published * payload.length) / 2 ** 20)} MB published at it, heap +${Math.round((heapPeak - heapBefore) / 2 ** 20)} MB; others' round trip p99 ${p99.baseline.toFixed(1)} ms before, ${p99.during.toFixed(1)} ms during (max ${Math.max(...during).toFixed(1)} ms)`)
  expect(afterMs).toBeGreaterThan(1500)
  expect(afterMs).toBeLessThan(6000)
  // What the broker held for it stayed bounded: tens of MB were published at it.
  expect(published * payload.length).toBeGreaterThan(40 * 1024 * 1024)
  expect(heapPeak - heapBefore).toBeLessThan(64 * 1024 * 1024)
  // Past maxQueuedBytes its QoS 0 messages were dropped, and counted; the drain timeout ended it.
  const metrics = await (await fetch(`${t.httpUrl}/metrics`)).text()
  expect(Number(/^switchyard_mqtt_messages_dropped_total (\d+)/m.exec(metrics)?.[1])).toBeGreaterThan(1000)
  expect(metrics).toMatch(/^switchyard_limit_exceeded_total\{limit="drain_timeout"\} 1$/m)
  // Everyone else kept going at their usual pace.
  expect(during.length, JSON.stringify(p99)).toBeGreaterThan(50)
  expect(p99.during, JSON.stringify(p99)).toBeLessThan(Math.max(2 * p99.baseline, p99.baseline + 25))
}, 30_000)

it('sends a subscriber that was slow for a while everything it missed, in order, once it reads again', async () => {
  await f.start('limits:\n  publishRate: 0\n  drainTimeout: 10s\n')
  const { client: slow, inbox } = await f.connectWithInbox({ clientId: 'slow' })
  await slow.subscribeAsync('burst/#', { qos: 1 })
  const publisher = await f.connect({ clientId: 'burster' })
  // The subscriber stops reading while 8 MB are published to it, at QoS 1 and QoS 0.
  slow.stream.pause()
  const payload = (i: number) => `${i}:${'x'.repeat(2000)}`
  const n = 4000
  // QoS 0 goes without a callback: MQTT.js calls one back on the socket's
  // 'drain', with a listener per publish while the socket is full (some
  // 2000 here, past its limit of 1000). The last message (n is even) is
  // QoS 1: the broker handles a connection's packets in order, so its
  // PUBACK comes after the broker has taken every message before it.
  const acked: Array<Promise<unknown>> = []
  for (let i = 0; i < n; i++) {
    const topic = `burst/${i % 2}`
    if (i % 2 === 1) acked.push(publisher.publishAsync(topic, payload(i), { qos: 1 }))
    else publisher.publish(topic, payload(i), { qos: 0 })
  }
  await Promise.all(acked)
  await new Promise((r) => setTimeout(r, 300))
  slow.stream.resume()
  await inbox.count(n, 20_000)
  // In order per topic (and QoS) [MQTT-4.6.0-6]; a QoS 0 message may overtake a QoS 1 one.
  for (const parity of [0, 1]) {
    const order = inbox.messages.filter((m) => m.topic === `burst/${parity}`).map((m) => Number(m.payload.slice(0, m.payload.indexOf(':'))))
    expect(order).toEqual(Array.from({ length: n / 2 }, (_, i) => 2 * i + parity))
  }
}, 30_000)
