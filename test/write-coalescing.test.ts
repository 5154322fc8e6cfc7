import type { Client } from 'aedes'
import { readFileSync } from 'node:fs'
import { connect as connectTcp } from 'node:net'
import mqttPacket from 'mqtt-packet'
import { describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import type { Inbox } from './helpers/mqtt.js'
import { useApp } from './helpers/use-app.js'
import { waitUntil } from './helpers/wait.js'

// The deliveries of one turn to a TCP subscriber leave in few system calls,
// counted in this process's /proc/self/io (the broker runs in it).

const f = useApp()

function writeSyscalls(): number {
  return Number(/^syscw:\s+(\d+)$/m.exec(readFileSync('/proc/self/io', 'utf8'))![1])
}

/** A publisher on a raw socket, connected; `burst` sends many publishes in one write. */
async function rawPublisher(port: number): Promise<{ burst(packets: mqttPacket.Packet[]): void }> {
  const socket = connectTcp(port, '127.0.0.1')
  f.defer(() => socket.destroy())
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject)
    socket.once('data', () => resolve())
    socket.write(mqttPacket.generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clientId: 'burst-publisher', clean: true, keepalive: 60 }))
  })
  return { burst: (packets) => void socket.write(Buffer.concat(packets.map((p) => mqttPacket.generate(p)))) }
}

function publishes(n: number, bytes: number): mqttPacket.IPublishPacket[] {
  return Array.from({ length: n }, (_, i) => ({
    cmd: 'publish',
    topic: `burst/${i % 7}`,
    payload: Buffer.from(String(i).padEnd(bytes, '.')),
    qos: 0,
    dup: false,
    retain: false,
  }))
}

async function subscriber(options: { qos?: 0 | 1 } = {}): Promise<Inbox> {
  const { client, inbox } = await f.connectWithInbox()
  await client.subscribeAsync('burst/#', { qos: options.qos ?? 0 })
  return inbox
}

describe('write coalescing', () => {
  it('sends the deliveries one read of publishes makes to a subscriber in a few writes, in order', async () => {
    const t = await f.start()
    const inboxes = [await subscriber(), await subscriber()]
    const publisher = await rawPublisher(t.addresses.mqtt.port)
    const n = 400
    const before = writeSyscalls()
    publisher.burst(publishes(n, 40))
    for (const inbox of inboxes) await inbox.count(n)
    const writes = writeSyscalls() - before
    // One write per delivery would be 800 (and the publisher's burst one
    // more); what else this process writes meanwhile (the test runner's
    // messages) counts too.
    expect(writes).toBeLessThan(100)
    for (const inbox of inboxes) expect(inbox.messages.map((m) => Number.parseInt(m.payload, 10))).toEqual([...Array(n).keys()])
  })

  for (const qos of [0, 1] as const) {
    it(`writes the deliveries of a burst of QoS ${qos} publishes as it routes them, not each in an immediate after the last`, async () => {
      const t = await f.start()
      const aedes = t.app.broker.aedes
      const ready = new Promise<Client>((resolve) => aedes.once('clientReady', resolve))
      const inbox = await subscriber({ qos })
      // A listener of the broker's own, beside the subscriber's: the router
      // calls both as it routes each publish.
      let routed = 0
      await new Promise<void>((resolve) => aedes.subscribe('burst/#', (_packet, cb) => (routed++, cb()), resolve))
      const conn = (await ready).conn as unknown as { _writev: (...args: unknown[]) => void }
      const routedAtWrites: number[] = []
      const writev = conn._writev
      conn._writev = function (this: unknown, ...args: unknown[]) {
        routedAtWrites.push(routed)
        return writev.apply(this, args)
      }
      const publisher = await rawPublisher(t.addresses.mqtt.port)
      // About 61 KB: one read, routed in one turn (fewer publishes than
      // Aedes' emitter takes at once).
      const n = 60
      publisher.burst(publishes(n, 1000).map((p, i) => (qos ? { ...p, qos, messageId: i + 1 } : p)))
      await inbox.count(n)
      expect(inbox.messages.map((m) => Number.parseInt(m.payload, 10))).toEqual([...Array(n).keys()])
      // The socket is flushed each time it holds half its high-water mark
      // (8 KB, some 8 deliveries), which it reaches while the burst is
      // routed. Written in immediates, nothing was written before the last
      // publish had been routed.
      expect(routedAtWrites[0]).toBeLessThan(n / 2)
    })
  }

  it('flushes a batch larger than half the socket buffer as it grows, so that corking never makes a write wait', async () => {
    const t = await f.start()
    const inbox = await subscriber()
    const publisher = await rawPublisher(t.addresses.mqtt.port)
    // About 63 KB for the subscriber, within what loopback takes at once.
    const n = 300
    const before = writeSyscalls()
    publisher.burst(publishes(n, 200))
    await inbox.count(n)
    const writes = writeSyscalls() - before
    expect(inbox.messages.map((m) => Number.parseInt(m.payload, 10))).toEqual([...Array(n).keys()])
    // Written about 8 KB at a time (half the socket's high-water mark): some
    // 8 writes, where one cork for the whole batch would make 1 or 2 and no
    // coalescing 300.
    expect(writes).toBeGreaterThanOrEqual(7)
    expect(writes).toBeLessThan(40)
    const metrics = await (await fetch(`${t.httpUrl}/metrics`)).text()
    expect(metrics).toMatch(/^switchyard_mqtt_messages_dropped_total 0$/m)
  })

  it('sends a WebSocket subscriber the deliveries of a turn in one frame, where each packet was four or five', async () => {
    const t = await f.start()
    const ws = new WebSocket(t.wsUrl, 'mqtt')
    f.defer(() => ws.terminate())
    await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject))
    const parser = mqttPacket.parser()
    const received: string[] = []
    let frames = 0
    parser.on('packet', (p) => {
      if (p.cmd === 'publish') received.push(p.payload.toString())
    })
    const subscribed = new Promise<void>((resolve) => parser.on('packet', (p) => p.cmd === 'suback' && resolve()))
    ws.on('message', (data: Buffer) => {
      frames++
      parser.parse(data)
    })
    ws.send(mqttPacket.generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clientId: 'ws-subscriber', clean: true, keepalive: 60 }))
    ws.send(mqttPacket.generate({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'burst/#', qos: 0 }] }))
    await subscribed
    const publisher = await rawPublisher(t.addresses.mqtt.port)
    frames = 0
    const n = 100
    publisher.burst(publishes(n, 20))
    await waitUntil(() => received.length >= n, { interval: 10, what: `the ${n} publishes to arrive over the WebSocket` })
    ws.close()
    expect(received.map((p) => Number.parseInt(p, 10))).toEqual([...Array(n).keys()])
    expect(frames).toBeLessThanOrEqual(5)
  })
})
