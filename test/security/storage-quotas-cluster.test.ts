import { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { NO_QUOTAS } from '../../src/storage/quotas.js'
import { SessionKeys } from '../../src/redis/sessions-keys.js'
import { RedisSessionOwners } from '../../src/redis/sessions-owners.js'
import { RedisRetained } from '../../src/redis/sessions-retained.js'
import { Inbox } from '../helpers/mqtt.js'
import { metricsText, sampleOf } from '../helpers/metrics.js'
import { startRedis, type RedisServer } from '../helpers/redis.js'
import { useApp } from '../helpers/use-app.js'
import { waitUntil } from '../helpers/wait.js'

// The storage quotas of a cluster node, whose stores are in Redis: the
// same attacks as storage-quotas.test.ts, each limit enforced by the Redis
// scripts that write what it bounds.

const TOKEN = 'storage-quotas-admin-token'
const f = useApp({ adminToken: TOKEN })
let server: RedisServer
let admin: Redis
let nodes = 0
let prefix = ''

beforeAll(async () => {
  server = await startRedis({ appendfsync: 'everysec' })
  admin = new Redis(server.url)
})
afterAll(async () => {
  await admin?.quit()
  await server?.remove()
})

/** A node of a cluster of its own (a fresh key prefix), with `limits` (YAML under `limits:`) and more config. */
function start(limits = '', more = '') {
  prefix = `quotas-${++nodes}:`
  return f.start(`cluster:\n  redis: ${server.url}\n  nodeId: quotas-${nodes}\n  keyPrefix: "${prefix}"\n${limits ? `limits:\n${limits}` : ''}${more}`)
}

/** The bytes the node's keys take in Redis (MEMORY USAGE, counted exactly), the bus' stream left out. */
async function redisBytes(): Promise<number> {
  let total = 0
  let cursor = '0'
  do {
    const [next, keys] = await admin.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000)
    cursor = next
    for (const key of keys) {
      if ((await admin.type(key)) === 'stream') continue
      total += Number(await admin.call('MEMORY', 'USAGE', key, 'SAMPLES', '0'))
    }
  } while (cursor !== '0')
  return total
}

async function exceeded(limit: string): Promise<number> {
  return (await f.metric(`switchyard_limit_exceeded_total{limit="${limit}",node="quotas-${nodes}"}`)) ?? 0
}

const ended = (c: { end(force: boolean, opts: object, cb: () => void): unknown }) => new Promise<void>((resolve) => c.end(false, {}, () => resolve()))

describe('a cluster node', () => {
  it('20 persistent sessions subscribed to # and 10 MB published: Redis keeps about one session\'s limit of messages, and the drops are counted', async () => {
    await start('  sessions: { maxPerUser: 20 }\n')
    for (let i = 0; i < 20; i++) {
      const c = await f.connect({ clientId: `sink-${i}`, clean: false })
      await c.subscribeAsync('#', { qos: 1 })
      await ended(c)
    }
    const before = await redisBytes()
    const publisher = await f.connect({ clientId: 'flooder' })
    const payload = Buffer.alloc(64 * 1024, 7)
    for (let i = 0; i < 160; i += 16) {
      await Promise.all(Array.from({ length: 16 }, (_, j) => publisher.publishAsync(`flood/${i + j}`, payload, { qos: 1 })))
    }
    await publisher.publishAsync('flood/last', 'end', { qos: 1 })
    // A message queued for several sessions is kept once in Redis: without the
    // limit the 10 MB stayed, whole; with it, what the sessions still hold
    // (each 1 MB, of the same newest messages) is about 1 MB.
    expect(await redisBytes() - before).toBeLessThan(3 * 1024 * 1024)

    const metrics = await metricsText(f.app.httpUrl)
    const node = `node="quotas-${nodes}"`
    const queued = sampleOf(metrics, `switchyard_session_queue_messages{${node}}`)!
    const dropped = sampleOf(metrics, `switchyard_session_messages_dropped_total{limit="session_bytes",${node}}`)!
    expect(queued).toBeLessThanOrEqual(20 * 16)
    expect(queued + dropped).toBe(20 * 161)
    expect(sampleOf(metrics, `switchyard_session_queue_bytes{${node}}`)).toBeLessThanOrEqual(20 * 1024 * 1024)

    const { inbox } = await f.connectWithInbox({ clientId: 'sink-3', clean: false })
    await inbox.on('flood/last')
    await inbox.flush()
    const topics = inbox.messages.map((m) => m.topic)
    expect(topics.length).toBeGreaterThan(10)
    expect(topics).toEqual([...Array.from({ length: topics.length - 1 }, (_, i) => `flood/${160 - topics.length + 1 + i}`), 'flood/last'])
  }, 120_000)

  it('keeps the newest maxMessages of a session', async () => {
    await start('  sessions: { maxMessages: 5 }\n')
    const c = await f.connect({ clientId: 'offline', clean: false })
    await c.subscribeAsync('news/#', { qos: 1 })
    await ended(c)
    const publisher = await f.connect()
    for (let i = 1; i <= 12; i++) await publisher.publishAsync(`news/${i}`, String(i), { qos: 1 })
    const { inbox } = await f.connectWithInbox({ clientId: 'offline', clean: false })
    await inbox.on('news/12')
    expect(inbox.messages.map((m) => m.payload)).toEqual(['8', '9', '10', '11', '12'])
    expect(await exceeded('session_messages')).toBe(7)
    // Acknowledged, the messages leave the totals too.
    const node = `node="quotas-${nodes}"`
    await waitUntil(async () => [await f.metric(`switchyard_session_queue_messages{${node}}`), await f.metric(`switchyard_session_queue_bytes{${node}}`)], { what: 'an empty queue', until: ([n, b]) => n === 0 && b === 0 })
  })

  it('refuses one more persistent session than maxPerUser with CONNACK 5, and frees a place at a clean CONNECT', async () => {
    await start('  sessions: { maxPerUser: 2 }\n')
    expect(await f.attempt({ clientId: 's-1', clean: false })).toBe('connected')
    expect(await f.attempt({ clientId: 's-2', clean: false })).toBe('connected')
    expect(await f.attempt({ clientId: 's-3', clean: false })).toMatch(/Not authorized/)
    await f.endClients()
    expect(await f.attempt({ clientId: 's-2', clean: false })).toBe('connected')
    expect(await f.attempt({ clientId: 's-1', clean: true })).toBe('connected')
    expect(await f.attempt({ clientId: 's-3', clean: false })).toBe('connected')
    expect(await exceeded('sessions_per_user')).toBe(1)
    expect(await f.metric(`switchyard_persistent_sessions{node="quotas-${nodes}"}`)).toBe(2)
  })

  it('keeps no more retained messages than the limits allow, per client and all together, and always takes a deletion', async () => {
    await start('  retained: { maxMessages: 4, maxMessagesPerClient: 3, maxBytesPerClient: 8KB }\n')
    const a = await f.connect({ clientId: 'a' })
    const b = await f.connect({ clientId: 'b' })
    for (let i = 1; i <= 4; i++) await a.publishAsync(`r/a${i}`, `a${i}`, { qos: 1, retain: true })
    expect(await exceeded('retained_messages_per_client')).toBe(1)
    await b.publishAsync('r/b1', Buffer.alloc(9 * 1024), { qos: 1, retain: true })
    expect(await exceeded('retained_bytes_per_client')).toBe(1)
    await b.publishAsync('r/b1', 'b1', { qos: 1, retain: true })
    await b.publishAsync('r/b2', 'b2', { qos: 1, retain: true })
    expect(await exceeded('retained_messages')).toBe(1)
    await a.publishAsync('r/a1', '', { qos: 1, retain: true })
    await b.publishAsync('r/b2', 'b2', { qos: 1, retain: true })
    expect(await f.metric(`switchyard_retained_messages{node="quotas-${nodes}"}`)).toBe(4)
    const c = await f.connect()
    const inbox = new Inbox(c)
    await c.subscribeAsync('r/#', { qos: 1 })
    await inbox.count(4)
    expect(inbox.messages.map((m) => m.topic).sort()).toEqual(['r/a2', 'r/a3', 'r/b1', 'r/b2'])
  })

  it('keeps the newest maxRows of a store table, in Redis', async () => {
    await start('  store: { maxRows: 3 }\n', `rules:
  - name: keep
    sql: SELECT * FROM 'log/#'
    actions:
      - store: { table: capped, key: '\${topic(2)}', ttl: 1h }
`)
    const publisher = await f.connect()
    for (let i = 1; i <= 8; i++) await publisher.publishAsync(`log/${i}`, JSON.stringify({ i }), { qos: 1 })
    const body = await waitUntil(() => f.api('/store/capped'), { what: 'log/8 stored', until: (b) => b.events?.[0]?.topic === 'log/8' })
    expect(body.events.map((e: { topic: string }) => e.topic)).toEqual(['log/8', 'log/7', 'log/6'])
    expect(await f.metric(`switchyard_store_rows_trimmed_total{table="capped",node="quotas-${nodes}"}`)).toBe(5)
    expect(await f.metric(`switchyard_store_rows{table="capped",node="quotas-${nodes}"}`)).toBe(3)
    // Nothing of the deleted rows is left: their keys' sets and expiries went with them.
    expect(await admin.zcard(`${prefix}events:expiry`)).toBe(3)
    expect((await admin.keys(`${prefix}events:capped:key:*`)).sort()).toEqual([6, 7, 8].map((i) => `${prefix}events:capped:key:${i}`))
  })
})

describe('the Redis scripts, from two nodes at once', () => {
  /** Two connections to the same keys, as two nodes have. */
  async function twoNodes<T>(make: (redis: Redis, keys: SessionKeys) => T): Promise<[T, T]> {
    const keys = new SessionKeys(`race-${++nodes}:`)
    const connections = [new Redis(server.url, { enableAutoPipelining: true }), new Redis(server.url, { enableAutoPipelining: true })]
    f.defer(() => Promise.all(connections.map((c) => c.quit())))
    return [make(connections[0]!, keys), make(connections[1]!, keys)]
  }

  it('give a user\'s last places to as many sessions as the limit, however many claim them together', async () => {
    const [a, b] = await twoNodes((redis, keys) => new RedisSessionOwners(redis, keys))
    const claims = await Promise.all(Array.from({ length: 40 }, (_, i) => (i % 2 ? a : b).claim(`device-${i}`, 'user:fleet', 5, `connection-${i}`, i % 2 ? 'broker-a' : 'broker-b')))
    expect(claims.filter(Boolean)).toHaveLength(5)
    expect(await a.count()).toBe(5)
  })

  it('keep a client\'s retained messages to its limit, however many it sets together', async () => {
    const [a, b] = await twoNodes((redis, keys) => new RedisRetained(redis, keys))
    const quota = { ...NO_QUOTAS.retained, maxMessagesPerClient: 3 }
    const refused = await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 ? a : b).store({ topic: `t/${i}`, payload: Buffer.from('x'), clientId: 'c', retain: true }, quota)))
    expect(refused.filter((r) => r === 'retained_messages_per_client')).toHaveLength(17)
    expect((await a.usage()).messages).toBe(3)
  })
})
