import mqttPacket from 'mqtt-packet'
import { once } from 'node:events'
import { createServer, connect, type AddressInfo, type Server, type Socket } from 'node:net'
import { Writable } from 'node:stream'
import { afterEach, describe, expect, it } from 'vitest'
import { waitUntil } from '../../test/helpers/wait.js'
import { WriteCoalescer } from './write-coalescing.js'

let server: Server | undefined
const sockets: Socket[] = []
afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy()
  server?.close()
  server = undefined
})

/** Both ends of a loopback TCP connection; what reaches the far end is collected. */
async function socketPair(): Promise<{ near: Socket; received: () => number }> {
  server = createServer()
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const far = connect((server.address() as AddressInfo).port, '127.0.0.1')
  const [near] = (await once(server, 'connection')) as [Socket]
  let bytes = 0
  far.on('data', (d: Buffer) => (bytes += d.length))
  sockets.push(near, far)
  return { near, received: () => bytes }
}

function publish(payloadBytes: number): mqttPacket.IPublishPacket {
  return { cmd: 'publish', topic: 't', payload: Buffer.alloc(payloadBytes), qos: 0, dup: false, retain: false }
}
const size = (payloadBytes: number) => mqttPacket.generate(publish(payloadBytes)).length

/** What Aedes does for one delivery: an immediate that writes the packet with mqtt-packet. */
function deliverLater(socket: Writable, payloadBytes: number): Promise<boolean> {
  return new Promise((resolve) => setImmediate(() => resolve(mqttPacket.writeToStream(publish(payloadBytes), socket))))
}

/**
 * Two deliveries held for `stream` by a coalescer with a 5 ms bound, the
 * second handed over in a later turn that runs long: when the first batch's
 * uncork comes, the first packet has waited past the bound and the stream
 * is still held for the second. Resolves once the second is written.
 */
async function secondDeliveryInALongTurn(stream: Writable, firstBytes: number, secondBytes: number): Promise<void> {
  const coalescer = new WriteCoalescer(5)
  const outlet = coalescer.outlet(stream)!
  void deliverLater(stream, firstBytes)
  coalescer.hold(outlet)
  const late = await new Promise<Promise<boolean>>((resolve) =>
    setImmediate(() => {
      const written = deliverLater(stream, secondBytes)
      coalescer.hold(outlet)
      const until = performance.now() + 6
      while (performance.now() < until);
      resolve(written)
    }),
  )
  await late
}

/**
 * Resolves after the uncork that hold() places: it is queued as an immediate
 * on the tick after the callback that held, and this one behind it.
 */
function afterTheUncork(): Promise<void> {
  return new Promise((resolve) => process.nextTick(() => setImmediate(resolve)))
}

describe('WriteCoalescer', () => {
  it('holds the writes of a batch until its last one is written, then sends them together', async () => {
    const { near, received } = await socketPair()
    const coalescer = new WriteCoalescer()
    const outlet = coalescer.outlet(near)!
    const writes = Array.from({ length: 20 }, () => {
      const written = deliverLater(near, 100)
      coalescer.hold(outlet)
      return written
    })
    await writes[19]
    // Every packet is written to the socket, none sent yet.
    expect(near.writableLength).toBe(20 * size(100))
    expect(near.writableCorked).toBe(1)
    await new Promise((r) => setImmediate(r))
    expect(near.writableCorked).toBe(0)
    expect(near.writableLength).toBe(0)
    await waitUntil(() => received() >= 20 * size(100), { interval: 5, what: 'every byte of the batch at the other end' })
  })

  it('flushes before a write would pass the high-water mark, so a write only waits for the kernel', async () => {
    const { near } = await socketPair()
    const coalescer = new WriteCoalescer()
    const outlet = coalescer.outlet(near)!
    const results = await Promise.all(
      Array.from({ length: 40 }, () => {
        const written = deliverLater(near, 1000)
        coalescer.hold(outlet)
        return written.then((ok) => ({ ok, buffered: near.writableLength }))
      }),
    )
    // 40 KB in one batch, more than the 16 KB mark: corked throughout, the
    // last writes would have returned false and the subscriber looked slow.
    expect(results.every((r) => r.ok)).toBe(true)
    expect(Math.max(...results.map((r) => r.buffered))).toBeLessThan(near.writableHighWaterMark)
    await new Promise((r) => setImmediate(r))
    expect(near.writableCorked).toBe(0)
  })

  it('keeps a socket corked past an uncork queued before its latest delivery', async () => {
    const { near } = await socketPair()
    // Within the time a delivery may be held (a stalled test runner must not flush it).
    const coalescer = new WriteCoalescer(60_000)
    const outlet = coalescer.outlet(near)!
    void deliverLater(near, 10)
    coalescer.hold(outlet)
    // Inside the immediates (as a rule's republish is): the uncork of the
    // first batch is queued already, this delivery is written after it.
    const late = await new Promise<Promise<boolean>>((resolve) =>
      setImmediate(() => {
        const written = deliverLater(near, 10)
        coalescer.hold(outlet)
        resolve(written)
      }),
    )
    await late
    // The first batch's uncork has run, and left the socket corked: both
    // packets wait for the second batch's.
    expect(near.writableCorked).toBe(1)
    expect(near.writableLength).toBe(2 * size(10))
    await new Promise((r) => setImmediate(r))
    expect(near.writableCorked).toBe(0)
    expect(near.writableLength).toBe(0)
  })

  it('sends at an uncork what a socket still corked for a later delivery has held for the bound, and keeps it corked', async () => {
    const { near, received } = await socketPair()
    await secondDeliveryInALongTurn(near, 10, 20)
    // The first packet went at the first batch's uncork; the second waits for its own.
    expect(near.writableCorked).toBe(1)
    expect(near.writableLength).toBe(size(20))
    await waitUntil(() => received() >= size(10), { interval: 5, what: 'the first packet at the other end' })
    await new Promise((r) => setImmediate(r))
    expect(near.writableCorked).toBe(0)
    expect(near.writableLength).toBe(0)
    await waitUntil(() => received() >= size(10) + size(20), { interval: 5, what: 'both packets at the other end' })
  })

  it('leaves no cork behind when it sends what a socket past half its high-water mark has held for the bound', async () => {
    // A peer that stopped reading: no write ever completes, and what is written stays buffered.
    const stuck = new Writable({ writev() {} })
    await secondDeliveryInALongTurn(stuck, 10_000, 10_000)
    await new Promise((r) => setImmediate(r))
    // Corked no more: what the peer reads next is sent when it can be.
    expect(stuck.writableCorked).toBe(0)
  })

  it('flushes before a write would pass the high-water mark when a turn writes its packets at once, each holding a cork level', async () => {
    const { near } = await socketPair()
    const coalescer = new WriteCoalescer()
    const outlet = coalescer.outlet(near)!
    const results: Array<{ ok: boolean; buffered: number }> = []
    for (let i = 0; i < 40; i++) {
      coalescer.hold(outlet)
      const ok = mqttPacket.writeToStream(publish(1000), near)
      results.push({ ok, buffered: near.writableLength })
    }
    // Each packet's cork is let go only on the next tick: 40 levels and the coalescer's.
    expect(near.writableCorked).toBe(41)
    expect(results.every((r) => r.ok)).toBe(true)
    expect(Math.max(...results.map((r) => r.buffered))).toBeLessThan(near.writableHighWaterMark)
    await afterTheUncork()
    expect(near.writableCorked).toBe(0)
    expect(near.writableLength).toBe(0)
  })

  it('sends what it has held for the bound when the next delivery comes in the same long turn, and holds that one', async () => {
    const { near, received } = await socketPair()
    const coalescer = new WriteCoalescer(5)
    const outlet = coalescer.outlet(near)!
    coalescer.hold(outlet)
    mqttPacket.writeToStream(publish(10), near)
    const until = performance.now() + 6
    while (performance.now() < until);
    coalescer.hold(outlet)
    // The first packet is sent, its cork level and the coalescer's kept.
    expect(near.writableLength).toBe(0)
    expect(near.writableCorked).toBe(2)
    mqttPacket.writeToStream(publish(20), near)
    expect(near.writableLength).toBe(size(20))
    await new Promise((r) => process.nextTick(r))
    // The packets' own uncorks have run: the second waits for the coalescer's.
    expect(near.writableCorked).toBe(1)
    expect(near.writableLength).toBe(size(20))
    await afterTheUncork()
    expect(near.writableCorked).toBe(0)
    await waitUntil(() => received() >= size(10) + size(20), { interval: 5, what: 'both packets at the other end' })
  })

  it('holds deliveries handed over within the bound in one turn', async () => {
    const { near } = await socketPair()
    const coalescer = new WriteCoalescer(60_000)
    const outlet = coalescer.outlet(near)!
    for (let i = 0; i < 20; i++) {
      coalescer.hold(outlet)
      mqttPacket.writeToStream(publish(100), near)
    }
    expect(near.writableLength).toBe(20 * size(100))
    await afterTheUncork()
    expect(near.writableLength).toBe(0)
  })

  it('leaves alone a stream that cannot write a batch at once (no _writev)', async () => {
    const { PassThrough } = await import('node:stream')
    expect(new WriteCoalescer().outlet(new PassThrough())).toBeUndefined()
  })
})
