import { connect as connectTcp, type Socket } from 'node:net'
import type { MqttClient } from 'mqtt'
import { describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import { end } from './helpers/mqtt.js'
import { useApp } from './helpers/use-app.js'
import { waitUntil } from './helpers/wait.js'

// Each limit ends only the connection that breaks it: a bystander keeps
// publishing and receiving, and the breach shows in /metrics.

const f = useApp()
const start = (limits: string) => f.start(`limits:\n${limits}`)

/** A subscriber to `bystander/#` and a publisher that checks its messages still flow. */
async function bystander(): Promise<{ check(n: number): Promise<void> }> {
  const { client: sub, inbox } = await f.connectWithInbox()
  await sub.subscribeAsync('bystander/#', { qos: 1 })
  const pub = await f.connect()
  let sent = 0
  return {
    async check(n: number) {
      for (let i = 0; i < n; i++) await pub.publishAsync(`bystander/${sent++}`, 'still here', { qos: 1 })
      await inbox.count(sent)
    },
  }
}
/** Resolves when the client's connection closes, with no reconnect. */
function closed(c: MqttClient): Promise<void> {
  return new Promise((resolve) => {
    if (!c.connected) return resolve()
    c.once('close', () => resolve())
  })
}
/** How often `limit` was broken, by /metrics (0 while it is not reported). */
async function exceeded(limit: string): Promise<number> {
  return (await f.metric(`switchyard_limit_exceeded_total{limit="${limit}"}`)) ?? 0
}
function rawSocket(): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connectTcp(f.app.addresses.mqtt.port, '127.0.0.1', () => resolve(s))
    s.once('error', reject)
    f.defer(() => s.destroy())
  })
}
function socketClosed(s: Socket): Promise<void> {
  return new Promise((resolve) => {
    if (s.destroyed) return resolve()
    s.once('close', () => resolve())
    s.on('error', () => {})
  })
}
function upgrade(headers: Record<string, string>): Promise<number | 'open'> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(f.app.wsUrl, 'mqtt', { headers })
    ws.once('open', () => {
      ws.close()
      resolve('open')
    })
    ws.once('unexpected-response', (_req, res) => {
      resolve(res.statusCode ?? 0)
      ws.terminate()
    })
    ws.once('error', (err) => reject(err))
  })
}

describe('maxPacketSize', () => {
  it('closes a TCP connection that sends a larger packet, and only that one', async () => {
    await start('  maxPacketSize: 4KB\n')
    const others = await bystander()
    const big = await f.connect()
    const gone = closed(big)
    big.publish('big/one', Buffer.alloc(5000, 1), { qos: 0 })
    await gone
    await others.check(3)
    expect(await exceeded('packet_size')).toBe(1)
    // A packet just under the limit is fine.
    const fits = await f.connect()
    await fits.publishAsync('big/two', Buffer.alloc(4000, 1), { qos: 1 })
  })

  it('refuses a packet as soon as its header announces too many bytes, before they arrive', async () => {
    await start('  maxPacketSize: 64KB\n')
    const s = await rawSocket()
    // CONNECT whose remaining length claims 200 MB; only 10 bytes follow.
    s.write(Buffer.from([0x10, 0x80, 0x80, 0x80, 0x60, 0, 4, 77, 81, 84, 84]))
    await socketClosed(s)
    expect(await exceeded('packet_size')).toBe(1)
  })

  it('closes a WebSocket connection whose frame is larger', async () => {
    await start('  maxPacketSize: 4KB\n')
    const others = await bystander()
    const big = await f.connect(f.app.wsUrl)
    const gone = closed(big)
    big.publish('big/ws', Buffer.alloc(8000, 1), { qos: 0 })
    await gone
    await others.check(3)
    expect(await exceeded('packet_size')).toBe(1)
  })
})

describe('maxConnections', () => {
  it('refuses connections past the limit on TCP and WebSocket, and takes them again once one closes', async () => {
    await start('  maxConnections: 2\n')
    const first = await f.connect()
    await f.connect(f.app.wsUrl)
    // The third connection is closed before it can say CONNECT.
    await socketClosed(await rawSocket())
    expect(await upgrade({})).toBe(503)
    expect(await exceeded('connections')).toBe(2)
    await end(first)
    await waitUntil(() => f.connect(), { interval: 50, what: 'a connection to be taken again once one closed' })
  })
})

describe('publishRate', () => {
  it('disconnects a client that publishes faster than the limit and keeps a client within it', async () => {
    await start('  publishRate: 20\n')
    const others = await bystander()
    const flooder = await f.connect()
    const gone = closed(flooder)
    for (let i = 0; i < 60; i++) flooder.publish('flood', String(i), { qos: 0 })
    await gone
    expect(await exceeded('publish_rate')).toBe(1)
    // 3 messages checked per round, 4 rounds spread over a second: well under 20/s.
    for (let i = 0; i < 4; i++) {
      await others.check(3)
      await new Promise((r) => setTimeout(r, 250))
    }
    expect(await exceeded('publish_rate')).toBe(1)
  })
})

describe('topic limits', () => {
  it('closes a connection that publishes to a topic longer than maxTopicLength', async () => {
    await start('  maxTopicLength: 64\n')
    const others = await bystander()
    const c = await f.connect()
    const gone = closed(c)
    c.publish(`long/${'x'.repeat(80)}`, 'hi', { qos: 1 })
    await gone
    await others.check(2)
    expect(await exceeded('topic_length')).toBe(1)
  })

  it('counts bytes, not characters', async () => {
    await start('  maxTopicLength: 64\n')
    const c = await f.connect()
    const gone = closed(c)
    // 30 characters, 90 bytes in UTF-8.
    c.publish('€'.repeat(30), 'hi', { qos: 0 })
    await gone
    expect(await exceeded('topic_length')).toBe(1)
  })

  it('closes a connection that subscribes to a filter deeper than maxTopicLevels', async () => {
    await start('  maxTopicLevels: 4\n')
    const others = await bystander()
    const c = await f.connect()
    await c.subscribeAsync('a/b/c/d')
    const gone = closed(c)
    c.subscribe('a/b/c/d/e')
    await gone
    await others.check(2)
    expect(await exceeded('topic_levels')).toBe(1)
  })

  it('closes a connection that publishes to a topic deeper than maxTopicLevels', async () => {
    await start('  maxTopicLevels: 4\n')
    const c = await f.connect()
    await c.publishAsync('a/b/c/d', 'ok', { qos: 1 })
    const gone = closed(c)
    c.publish('a/b/c/d/e', 'too deep', { qos: 1 })
    await gone
    expect(await exceeded('topic_levels')).toBe(1)
  })
})

describe('websocketOrigins', () => {
  it('lets pages of its own origin, listed origins and clients without an Origin connect; refuses other sites', async () => {
    await start('  websocketOrigins: [ "https://chat.example.com" ]\n')
    const host = `127.0.0.1:${f.app.addresses.http.port}`
    expect(await upgrade({})).toBe('open')
    expect(await upgrade({ Origin: `http://${host}` })).toBe('open')
    expect(await upgrade({ Origin: 'https://chat.example.com' })).toBe('open')
    expect(await upgrade({ Origin: 'https://evil.example.net' })).toBe(403)
    expect(await upgrade({ Origin: 'https://chat.example.com.evil.example.net' })).toBe(403)
    expect(await exceeded('websocket_origin')).toBe(2)
  })

  it('allows any origin with "*"', async () => {
    await start('  websocketOrigins: [ "*" ]\n')
    expect(await upgrade({ Origin: 'https://anywhere.example.org' })).toBe('open')
  })
})

describe('defaults', () => {
  it('has a limit for each, and reports every limit at 0 until one is broken', async () => {
    const t = await f.start()
    expect(t.app.broker.limits.config).toEqual({
      maxPacketSize: 1024 * 1024,
      maxConnectSize: 64 * 1024,
      connectTimeout: 10_000,
      maxConnections: 10_000,
      maxConnectionsPerAddress: 1000,
      maxPendingConnections: 1000,
      maxPendingConnectionsPerAddress: 100,
      publishRate: 1000,
      maxTopicLength: 1024,
      maxTopicLevels: 32,
      websocketOrigins: [],
      allowedHosts: [],
      drainTimeout: 30_000,
      maxQueuedBytes: 8 * 1024 * 1024,
      invocationsPerClient: 0,
      // 7 days [limits.sessionExpiry].
      sessionExpiry: 7 * 24 * 3600 * 1000,
      retained: { maxMessages: 10_000, maxBytes: 64 * 1024 * 1024, maxMessagesPerClient: 100, maxBytesPerClient: 1024 * 1024 },
      sessions: { maxPerUser: 10, maxMessages: 1000, maxBytes: 1024 * 1024 },
      subscriptions: { maxPerClient: 100 },
      store: { maxRows: 100_000 },
    })
    for (const limit of [
      'packet_size', 'connect_size', 'connect_timeout', 'connections', 'connections_per_address', 'pending_connections', 'pending_connections_per_address',
      'publish_rate', 'topic_length', 'topic_levels', 'websocket_origin', 'host', 'queued_bytes', 'drain_timeout', 'invocations_per_client',
      'retained_messages', 'retained_bytes', 'retained_messages_per_client', 'retained_bytes_per_client',
      'sessions_per_user', 'session_messages', 'session_bytes', 'subscriptions_per_client', 'store_rows',
    ]) {
      expect(await exceeded(limit)).toBe(0)
    }
  })
})

describe('client ids', () => {
  it('refuses a client id with + or #, which would make lifecycle topics wildcards, and accepts one with /', async () => {
    await f.start()
    for (const clientId of ['sensor+1', 'site/#']) {
      expect(await f.attempt({ clientId })).toMatch(/Identifier rejected/)
    }
    const ok = await f.connect({ clientId: 'site/device-1' })
    expect(ok.connected).toBe(true)
  })
})
