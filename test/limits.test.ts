import { connect as connectTcp, type Socket } from 'node:net'
import mqtt, { type MqttClient } from 'mqtt'
import { afterEach, describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import { startApp, type TestApp } from './helpers/app.js'
import { attempt, connect, connectWithInbox, end, type Inbox } from './helpers/mqtt.js'

// Each limit ends only the connection that breaks it: a bystander keeps
// publishing and receiving, and the breach shows in /metrics.

let t: TestApp | undefined
const clients: MqttClient[] = []
const sockets: Socket[] = []
afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy()
  await Promise.all(clients.splice(0).map((c) => end(c, true)))
  await t?.close()
  t = undefined
})

async function start(limits: string): Promise<TestApp> {
  t = await startApp({ extraYaml: `limits:\n${limits}` })
  return t
}
async function open(url = t!.mqttUrl, options: mqtt.IClientOptions = {}): Promise<MqttClient> {
  const c = await connect(url, options)
  clients.push(c)
  return c
}
/** A subscriber to `bystander/#` and a publisher that checks its messages still flow. */
async function bystander(): Promise<{ check(n: number): Promise<void> }> {
  const { client: sub, inbox } = await connectWithInbox(t!.mqttUrl)
  clients.push(sub)
  await sub.subscribeAsync('bystander/#', { qos: 1 })
  const pub = await open()
  let sent = 0
  return {
    async check(n: number) {
      for (let i = 0; i < n; i++) await pub.publishAsync(`bystander/${sent++}`, 'still here', { qos: 1 })
      await waitForCount(inbox, sent)
    },
  }
}
function waitForCount(inbox: Inbox, n: number) {
  return inbox.count(n).then(() => undefined)
}
/** Resolves when the client's connection closes, with no reconnect. */
function closed(c: MqttClient): Promise<void> {
  return new Promise((resolve) => {
    if (!c.connected) return resolve()
    c.once('close', () => resolve())
  })
}
async function exceeded(limit: string): Promise<number> {
  const text = await (await fetch(`${t!.httpUrl}/metrics`)).text()
  const line = text.split('\n').find((l) => l.startsWith(`switchyard_limit_exceeded_total{limit="${limit}"}`))
  return Number(line?.split(' ').pop() ?? 0)
}
function rawSocket(): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connectTcp(t!.addresses.mqtt.port, '127.0.0.1', () => resolve(s))
    s.once('error', reject)
    sockets.push(s)
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
    const ws = new WebSocket(t!.wsUrl, 'mqtt', { headers })
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
    const big = await open()
    const gone = closed(big)
    big.publish('big/one', Buffer.alloc(5000, 1), { qos: 0 })
    await gone
    await others.check(3)
    expect(await exceeded('packet_size')).toBe(1)
    // A packet just under the limit is fine.
    const fits = await open()
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
    const big = await open(t!.wsUrl)
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
    const first = await open()
    await open(t!.wsUrl)
    // The third connection is closed before it can say CONNECT.
    await socketClosed(await rawSocket())
    expect(await upgrade({})).toBe(503)
    expect(await exceeded('connections')).toBe(2)
    await end(first)
    await expect.poll(async () => {
      try {
        await open()
        return 'connected'
      } catch {
        return 'refused'
      }
    }).toBe('connected')
  })
})

describe('publishRate', () => {
  it('disconnects a client that publishes faster than the limit and keeps a client within it', async () => {
    await start('  publishRate: 20\n')
    const others = await bystander()
    const flooder = await open()
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
    const c = await open()
    const gone = closed(c)
    c.publish(`long/${'x'.repeat(80)}`, 'hi', { qos: 1 })
    await gone
    await others.check(2)
    expect(await exceeded('topic_length')).toBe(1)
  })

  it('counts bytes, not characters', async () => {
    await start('  maxTopicLength: 64\n')
    const c = await open()
    const gone = closed(c)
    // 30 characters, 90 bytes in UTF-8.
    c.publish('€'.repeat(30), 'hi', { qos: 0 })
    await gone
    expect(await exceeded('topic_length')).toBe(1)
  })

  it('closes a connection that subscribes to a filter deeper than maxTopicLevels', async () => {
    await start('  maxTopicLevels: 4\n')
    const others = await bystander()
    const c = await open()
    await c.subscribeAsync('a/b/c/d')
    const gone = closed(c)
    c.subscribe('a/b/c/d/e')
    await gone
    await others.check(2)
    expect(await exceeded('topic_levels')).toBe(1)
  })

  it('closes a connection that publishes to a topic deeper than maxTopicLevels', async () => {
    await start('  maxTopicLevels: 4\n')
    const c = await open()
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
    const host = `127.0.0.1:${t!.addresses.http.port}`
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
    t = await startApp()
    expect(t.app.broker.limits.config).toEqual({
      maxPacketSize: 1024 * 1024,
      maxConnections: 10_000,
      publishRate: 1000,
      maxTopicLength: 1024,
      maxTopicLevels: 32,
      websocketOrigins: [],
      drainTimeout: 30_000,
      maxQueuedBytes: 8 * 1024 * 1024,
    })
    for (const limit of ['packet_size', 'connections', 'publish_rate', 'topic_length', 'topic_levels', 'websocket_origin', 'queued_bytes', 'drain_timeout']) {
      expect(await exceeded(limit)).toBe(0)
    }
  })
})

describe('client ids', () => {
  it('refuses a client id with + or #, which would make lifecycle topics wildcards, and accepts one with /', async () => {
    t = await startApp()
    for (const clientId of ['sensor+1', 'site/#']) {
      expect(await attempt(t.mqttUrl, { clientId }, (c) => clients.push(c))).toMatch(/Identifier rejected/)
    }
    const ok = await open(t.mqttUrl, { clientId: 'site/device-1' })
    expect(ok.connected).toBe(true)
  })
})
