import type { Redis } from 'ioredis'
import { pino } from 'pino'
import { Registry } from 'prom-client'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { startRedis, type RedisServer } from '../../test/helpers/redis.js'
import { waitUntil } from '../../test/helpers/wait.js'
import { StreamBus } from './bus.js'
import { redisConnection } from './redis.js'

const log = pino({ level: 'silent' })

interface Node {
  bus: StreamBus
  received: Array<Record<string, unknown>>
  connections: Redis[]
}

describe('the stream bus between nodes', () => {
  let redis: RedisServer
  const nodes: Node[] = []

  beforeEach(async () => {
    redis = await startRedis()
  })

  afterEach(async () => {
    for (const node of nodes.splice(0)) {
      await new Promise<void>((resolve) => node.bus.close(resolve))
      for (const c of node.connections) c.disconnect()
    }
    await redis.remove()
  })

  async function node(origin: string, filter = '#'): Promise<Node> {
    const connections = [redisConnection(redis.url, `${origin}`), redisConnection(redis.url, `${origin} reader`)]
    for (const c of connections) c.on('error', () => {})
    await Promise.all(connections.map((c) => c.connect()))
    const bus = new StreamBus({ redis: connections[0]!, reader: connections[1]!, key: 'test:messages', origin, maxLength: 1000, concurrency: 100, log, registry: new Registry() })
    await bus.start()
    const received: Node['received'] = []
    bus.on(filter, (message, done) => {
      received.push(message)
      done()
    })
    const made = { bus, received, connections }
    nodes.push(made)
    return made
  }

  const emit = (bus: StreamBus, message: Record<string, unknown>) =>
    new Promise<void>((resolve, reject) => bus.emit(message as never, (err) => (err ? reject(err) : resolve())))

  it('hands a message to the subscribers of its own node and of every other node, once each, byte for byte', async () => {
    const a = await node('a')
    const b = await node('b', 'room/+')
    const c = await node('c')
    const payload = Buffer.from([0, 1, 2, 255, 254])
    await emit(a.bus, { cmd: 'publish', topic: 'room/1', payload, qos: 1, retain: false, brokerId: 'a', brokerCounter: 7, properties: { correlationData: Buffer.from('x') } })
    await waitUntil(() => b.received.length === 1 && c.received.length === 1, { what: 'the message on nodes b and c' })
    expect(a.received).toHaveLength(1)
    for (const got of [b.received[0]!, c.received[0]!]) {
      expect(got).toMatchObject({ topic: 'room/1', qos: 1, brokerId: 'a', brokerCounter: 7 })
      expect(Buffer.compare(got.payload as Buffer, payload)).toBe(0)
      expect((got.properties as { correlationData: Buffer }).correlationData.toString()).toBe('x')
    }
    // Nothing comes back to the node that sent it, or twice to the others.
    await new Promise((r) => setTimeout(r, 200))
    expect([a.received.length, b.received.length, c.received.length]).toEqual([1, 1, 1])
  })

  it('keeps each sender\'s order', async () => {
    const a = await node('a')
    const b = await node('b')
    const sent = Array.from({ length: 500 }, (_, i) => emit(a.bus, { topic: 't', payload: Buffer.from(String(i)), qos: i % 2 }))
    await Promise.all(sent)
    await waitUntil(() => b.received.length === 500, { what: '500 messages on node b' })
    expect(b.received.map((m) => Number(String(m.payload)))).toEqual(Array.from({ length: 500 }, (_, i) => i))
  })

  it('a QoS 1 message completes once Redis has it; a node cut off while it was sent reads it when Redis is back', async () => {
    const a = await node('a')
    const b = await node('b')
    await redis.stop()
    let completed = false
    const sending = emit(a.bus, { topic: 't', payload: Buffer.from('while down'), qos: 1 }).then(() => (completed = true))
    await new Promise((r) => setTimeout(r, 300))
    // Local subscribers have it; the publisher is not told it is safe yet.
    expect(a.received).toHaveLength(1)
    expect(completed).toBe(false)
    await redis.restart()
    await sending
    await waitUntil(() => b.received.length === 1, { what: 'the message on node b', timeout: 10_000 })
    expect(String(b.received[0]!.payload)).toBe('while down')
  })
})
