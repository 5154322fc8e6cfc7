import type { Socket } from 'node:net'
import mqttPacket from 'mqtt-packet'
import { describe, expect, it } from 'vitest'
import { metric } from '../helpers/metrics.js'
import { allClosed, clientFrameHeader, connectPacket, openSocket, unfinishedPacket, upgradeFrom } from '../helpers/sockets.js'
import { useApp } from '../helpers/use-app.js'

// A client that has not said who it is may make the broker hold at most
// limits.maxConnectSize (64KB) of its first packet, not maxPacketSize (1MB):
// a CONNECT announcing more is refused as soon as its fixed header arrives.

const f = useApp()
const exceeded = async (limit: string) => (await f.metric(`switchyard_limit_exceeded_total{limit="${limit}"}`)) ?? 0
const bytesIn = async () => (await metric(f.app.httpUrl, 'switchyard_mqtt_bytes_in_total'))!

/** `n` sockets that each send `bytes`; destroyed after the test. */
async function sendOnEach(n: number, bytes: (i: number) => Buffer, open = () => openSocket(f.app.addresses.mqtt.port)): Promise<Socket[]> {
  const sockets = await Promise.all(Array.from({ length: n }, open))
  for (const s of sockets) f.defer(() => s.destroy())
  sockets.forEach((s, i) => s.write(bytes(i)))
  return sockets
}

describe('limits.maxConnectSize', () => {
  it('closes 100 connections that each announce a 1 MB CONNECT as soon as its header arrives, and reads little of what follows', async () => {
    await f.start()
    const before = await bytesIn()
    // Within maxPacketSize (1MB): only the CONNECT's own ceiling refuses them.
    const sent = 256 * 1024
    const sockets = await sendOnEach(100, () => unfinishedPacket(0x10, 1_000_000, sent))
    // Well before connectTimeout (10s; Aedes alone waited 30s for the rest).
    await allClosed(sockets, 3000, 'the broker to close 100 connections announcing a 1 MB CONNECT')
    expect(await exceeded('connect_size')).toBe(100)
    // The broker stopped reading each one at its header: what it read is a
    // fraction of the 25 MB sent, where it used to buffer every byte.
    const read = (await bytesIn()) - before
    expect(read).toBeLessThan((100 * sent) / 2)
    // Everyone else still connects.
    const c = await f.connect()
    expect(c.connected).toBe(true)
  })

  it('holds any packet sent before CONNECT to the same ceiling', async () => {
    await f.start()
    // A PUBLISH of 500 KB as the first packet, of which 100 KB is sent.
    const sockets = await sendOnEach(5, () => unfinishedPacket(0x30, 500_000, 100_000))
    await allClosed(sockets, 3000, 'the broker to close connections whose first packet announces 500 KB')
    expect(await exceeded('connect_size')).toBe(5)
  })

  it('closes WebSocket connections that send a 1 MB frame before their CONNECT once they pass the ceiling', async () => {
    const t = await f.start()
    const sent = 256 * 1024
    const sockets = await sendOnEach(20, () => Buffer.concat([clientFrameHeader(1_000_000), Buffer.alloc(sent, 7)]), async () => {
      const { status, socket } = await upgradeFrom(t.addresses.http.port)
      expect(status).toBe(101)
      return socket
    })
    await allClosed(sockets, 3000, 'the broker to close WebSocket connections sending a 1 MB frame before CONNECT')
    expect(await exceeded('connect_size')).toBe(20)
  })

  it('lets a client send a packet up to maxPacketSize right behind its CONNECT, in the same write', async () => {
    await f.start()
    const { client: sub, inbox } = await f.connectWithInbox()
    await sub.subscribeAsync('big', { qos: 1 })
    const publish = mqttPacket.generate({ cmd: 'publish', topic: 'big', payload: Buffer.alloc(500_000, 1), qos: 0, retain: false, dup: false })
    await sendOnEach(1, () => Buffer.concat([connectPacket({ clientId: 'eager' }), publish]))
    expect((await inbox.on('big')).payload).toHaveLength(500_000)
    expect(await exceeded('connect_size')).toBe(0)
  })

  it('refuses a maxConnectSize below 64 bytes, naming the file, line and column', async () => {
    await expect(f.start('limits:\n  maxConnectSize: 10\n')).rejects.toThrow(/switchyard\.yaml:\d+:\d+: limits\.maxConnectSize must be at least 64 bytes/)
  })
})
