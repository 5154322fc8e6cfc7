import { Redis } from 'ioredis'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { startRedis, type RedisServer } from '../../test/helpers/redis.js'
import type { NewEvent } from '../storage/event-log.js'
import { APPEND_BATCH, RedisEventLog } from './event-log.js'

// Two logs on one Redis and one key prefix stand for two nodes of a
// cluster: each has its own connection (auto-pipelined, as the cluster's).

let server: RedisServer
let admin: Redis
const connections: Redis[] = []
let prefixes = 0

beforeAll(async () => {
  server = await startRedis({ appendfsync: 'everysec' })
  admin = new Redis(server.url)
})
afterEach(async () => {
  await Promise.all(connections.splice(0).map((c) => c.quit()))
})
afterAll(async () => {
  await admin?.quit()
  await server?.remove()
})

function node(keyPrefix: string): RedisEventLog {
  const redis = new Redis(server.url, { enableAutoPipelining: true })
  connections.push(redis)
  return new RedisEventLog({ redis, keyPrefix })
}

function twoNodes() {
  const keyPrefix = `test-${++prefixes}:`
  return { a: node(keyPrefix), b: node(keyPrefix), keyPrefix }
}

const T = Date.now() - 60_000
const chat = (n: number, more: Partial<NewEvent> = {}): NewEvent => ({
  table: 'chat', key: 'lobby', timestamp: T + n, topic: 'chat/pub/lobby', clientId: `chat-${n}`, data: { message: `hello ${n}` }, expiresAt: null, ...more,
})
const messages = (events: readonly { data: unknown }[]) => events.map((e) => (e.data as { message: string }).message)

async function evalshaCalls(): Promise<number> {
  const stats = await admin.info('commandstats')
  return Number(/cmdstat_evalsha:calls=(\d+)/.exec(stats)?.[1] ?? 0)
}

describe('RedisEventLog in a cluster', () => {
  it('lets each node read the events the other stored, in one order, with ids of their own', async () => {
    const { a, b } = twoNodes()
    await Promise.all([a.append(chat(1)), b.append(chat(2)), a.append(chat(3)), b.append(chat(4, { key: 'garden' }))])
    const fromA = await a.query('chat')
    expect(messages(fromA)).toEqual(['hello 4', 'hello 3', 'hello 2', 'hello 1'])
    expect(await b.query('chat')).toEqual(fromA)
    expect(new Set(fromA.map((e) => e.id)).size).toBe(4)
    expect(messages(await b.query('chat', { key: 'lobby' }))).toEqual(['hello 3', 'hello 2', 'hello 1'])
    expect(messages(await a.query('chat', { key: 'garden' }))).toEqual(['hello 4'])
  })

  it('orders the events of one millisecond by when they were stored, newest first', async () => {
    const { a, b } = twoNodes()
    // Ids 1 to 12: in bytes, '10' sorts before '9' unless they are padded.
    for (let n = 1; n <= 12; n++) await (n % 2 === 0 ? a : b).append(chat(n, { timestamp: T }))
    expect(messages(await a.query('chat', { limit: 12 }))).toEqual(Array.from({ length: 12 }, (_, i) => `hello ${12 - i}`))
  })

  it('sends the appends of one turn together, one script per 500', async () => {
    const { a } = twoNodes()
    const before = await evalshaCalls()
    await Promise.all(Array.from({ length: APPEND_BATCH * 2 + 1 }, (_, n) => a.append(chat(n))))
    // Counted whether Redis knew the script or answered NOSCRIPT (then an EVAL follows).
    expect(await evalshaCalls() - before).toBe(3)
    expect((await a.query('chat', { limit: 1000 })).length).toBe(1000)
  })

  it('sweeps on one node the events another stored, and leaves no key behind', async () => {
    const { a, b, keyPrefix } = twoNodes()
    const now = Date.now()
    // Tables and keys that would share key names if table names were not escaped.
    await Promise.all([
      a.append(chat(1, { table: 'a:key:b', key: null, expiresAt: now - 10 })),
      b.append(chat(2, { table: 'a', key: 'b:time', expiresAt: now - 10 })),
      a.append(chat(3, { table: 'a%3Akey%3Ab', key: null, expiresAt: now - 10 })),
      b.append(chat(4, { table: 'a', key: 'b:time' })),
      a.append(chat(5, { table: 'a:key:b', key: null })),
    ])
    expect(messages(await a.query('a:key:b'))).toEqual(['hello 5'])
    expect(messages(await b.query('a', { key: 'b:time' }))).toEqual(['hello 4'])
    expect(messages(await b.query('a%3Akey%3Ab'))).toEqual([])
    expect(await b.sweepExpired(now)).toBe(3)
    expect(await a.sweepExpired(now)).toBe(0)
    expect(messages(await a.query('a:key:b'))).toEqual(['hello 5'])
    expect(messages(await a.query('a', { key: 'b:time' }))).toEqual(['hello 4'])
    const events = `${keyPrefix}events:`
    expect((await admin.keys(`${keyPrefix}*`)).sort()).toEqual([
      `${events}a%3Akey%3Ab:data`, `${events}a%3Akey%3Ab:time`, `${events}a:data`, `${events}a:key:b:time`, `${events}a:time`, `${events}seq`,
    ])
  })

  it('keeps a table to its limit across nodes, and leaves nothing of the events it deletes', async () => {
    const { a, b, keyPrefix } = twoNodes()
    const now = Date.now()
    // Keys JSON writes with escapes, and one that is not well-formed UTF-16 (a lone surrogate, kept as U+FFFD as in SQLite).
    const keys = ['lobby', 'a "quoted" \\ key\n', 'é\u2028😀', 'lone \ud800']
    await Promise.all(Array.from({ length: 40 }, (_, n) => (n % 2 ? a : b).append(chat(n, { key: keys[n % 4]!, expiresAt: n % 3 ? now + 3_600_000 : null, maxRows: 4 }))))
    expect(messages(await a.query('chat'))).toEqual(['hello 39', 'hello 38', 'hello 37', 'hello 36'])
    const events = `${keyPrefix}events:`
    expect(await admin.hlen(`${events}chat:data`)).toBe(4)
    expect(await admin.zcard(`${events}chat:time`)).toBe(4)
    const keySets = await admin.keys(`${events}chat:key:*`)
    expect(keySets).toHaveLength(4)
    for (const key of keySets) expect(await admin.zcard(key)).toBe(1)
    // 37 and 38 of the four left have a TTL.
    expect(await admin.zcard(`${events}expiry`)).toBe(2)
    expect(messages(await b.query('chat', { key: 'lone \ud800' }))).toEqual(['hello 39'])
    expect((await b.query('chat', { key: 'lone \ufffd' }))[0]?.key).toBe('lone \ufffd')
  })

  it('sweeps more expired events than one script deletes', async () => {
    const { a, b } = twoNodes()
    const now = Date.now()
    await Promise.all(Array.from({ length: 2500 }, (_, n) => a.append(chat(n, { key: `room-${n % 7}`, expiresAt: now - 1 }))))
    await a.append(chat(9999))
    expect(await b.sweepExpired(now)).toBe(2500)
    expect(messages(await a.query('chat'))).toEqual(['hello 9999'])
  })

  it('refuses a key prefix given as the client\'s own option', async () => {
    const redis = new Redis(server.url, { keyPrefix: 'x:', lazyConnect: true })
    expect(() => new RedisEventLog({ redis, keyPrefix: 'x:' })).toThrow(/keyPrefix/)
    redis.disconnect()
  })
})
