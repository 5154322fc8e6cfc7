import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { MqttClient } from 'mqtt'
import { describe, expect, it } from 'vitest'
import { hashPassword } from '../../src/broker/passwords.js'
import { parseConfig } from '../../src/config/load.js'
import { ConfigError } from '../../src/errors.js'
import { Inbox } from '../helpers/mqtt.js'
import { metricsText, sampleOf } from '../helpers/metrics.js'
import { useApp } from '../helpers/use-app.js'
import { waitUntil } from '../helpers/wait.js'

// Storage quotas: a client cannot make the broker keep without bound what
// it publishes (retained messages, the queues of persistent sessions, rows
// of the store action), nor open persistent sessions or subscriptions
// without bound. Each test is an attack; each limit shows in /metrics.

const TOKEN = 'storage-quotas-admin-token'
const f = useApp({ adminToken: TOKEN })

/** How often `limit` was broken, by /metrics (0 while it is not reported). */
async function exceeded(limit: string): Promise<number> {
  return (await f.metric(`switchyard_limit_exceeded_total{limit="${limit}"}`)) ?? 0
}

/** The size of the SQLite database, free pages included: what the file takes once checkpointed. */
function databaseBytes(): number {
  const db = f.app.app.db
  return (db.pragma('page_count', { simple: true }) as number) * (db.pragma('page_size', { simple: true }) as number)
}

/** What the broker granted each filter of one SUBSCRIBE (MQTT.js rejects a SUBACK with a refusal, and keeps the packet). */
async function grants(c: MqttClient, topics: string[]): Promise<number[]> {
  try {
    return (await c.subscribeAsync(topics, { qos: 1 })).map((g) => g.qos)
  } catch (err) {
    const codes = (err as { packet?: { granted: number[] } }).packet?.granted
    if (!codes) throw err
    return codes
  }
}

describe('the queues of persistent sessions', () => {
  it('20 persistent sessions subscribed to # and 10 MB published: the database grows by about 20 times limits.sessions.maxBytes, and the drops are counted', async () => {
    // Two users of ten sessions each: within limits.sessions.maxPerUser (10), at the defaults.
    const hash = await hashPassword('pw')
    await f.start(`auth:\n  users: [ { username: u1, password: '${hash}' }, { username: u2, password: '${hash}' } ]\n`)
    for (let i = 0; i < 20; i++) {
      const c = await f.connect({ clientId: `sink-${i}`, clean: false, username: `u${1 + (i % 2)}`, password: 'pw' })
      await c.subscribeAsync('#', { qos: 1 })
      await new Promise<void>((resolve) => c.end(false, {}, () => resolve()))
    }
    const before = databaseBytes()
    const publisher = await f.connect({ clientId: 'flooder', username: 'u1', password: 'pw' })
    const payload = Buffer.alloc(64 * 1024, 7)
    // 160 QoS 1 messages of 64 KB: 10 MB, each acknowledged once queued for every session.
    for (let i = 0; i < 160; i += 16) {
      await Promise.all(Array.from({ length: 16 }, (_, j) => publisher.publishAsync(`flood/${i + j}`, payload, { qos: 1 })))
    }
    // QoS 0 messages are never queued for an offline session (MQTT 3.1.1 allows it).
    for (let i = 0; i < 20; i++) publisher.publish('flood/qos0', payload, { qos: 0 })
    await publisher.publishAsync('flood/last', 'end', { qos: 1 })

    // 1 MB a session (the default), and the newest message whatever its size: 20 × (1 MB + 64 KB),
    // with room for SQLite's pages. Without the limit each session kept all 10 MB: 210 MB and more.
    const grown = databaseBytes() - before
    expect(grown).toBeLessThan(20 * (1024 * 1024 + 64 * 1024) * 1.25)

    const metrics = await metricsText(f.app.httpUrl)
    const queued = sampleOf(metrics, 'switchyard_session_queue_messages')!
    const dropped = sampleOf(metrics, 'switchyard_session_messages_dropped_total{limit="session_bytes"}')!
    expect(queued).toBeLessThanOrEqual(20 * 16)
    expect(queued + dropped).toBe(20 * 161)
    expect(sampleOf(metrics, 'switchyard_session_queue_bytes')).toBeLessThanOrEqual(20 * 1024 * 1024)
    expect(sampleOf(metrics, 'switchyard_limit_exceeded_total{limit="session_bytes"}')).toBeGreaterThan(0)

    // A session gets the newest messages, in order: the oldest went first.
    const { inbox } = await f.connectWithInbox({ clientId: 'sink-7', clean: false, username: 'u2', password: 'pw' })
    await inbox.on('flood/last')
    await inbox.flush()
    const topics = inbox.messages.map((m) => m.topic)
    expect(topics.length).toBeGreaterThan(10)
    expect(topics).toEqual([...Array.from({ length: topics.length - 1 }, (_, i) => `flood/${160 - topics.length + 1 + i}`), 'flood/last'])
  }, 120_000)

  it('keeps the newest 1,000 messages of a session (limits.sessions.maxMessages), and delivers them in order', async () => {
    await f.start()
    const c = await f.connect({ clientId: 'offline', clean: false })
    await c.subscribeAsync('news/#', { qos: 1 })
    await new Promise<void>((resolve) => c.end(false, {}, () => resolve()))
    // Two publishers, each well within limits.publishRate (1,000 a second).
    const publishers = [await f.connect(), await f.connect()]
    for (let i = 1; i <= 1010; i += 101) {
      const publisher = publishers[(i - 1) % 2]!
      await Promise.all(Array.from({ length: 101 }, (_, j) => publisher.publishAsync(`news/${i + j}`, String(i + j), { qos: 1 })))
    }
    expect(await f.metric('switchyard_session_messages_dropped_total{limit="session_messages"}')).toBe(10)
    expect(await exceeded('session_messages')).toBe(10)
    const { inbox } = await f.connectWithInbox({ clientId: 'offline', clean: false })
    await inbox.on('news/1010')
    expect(inbox.messages.map((m) => m.payload)).toEqual(Array.from({ length: 1000 }, (_, i) => String(11 + i)))
    // Acknowledged, the messages leave the totals too.
    await waitUntil(async () => [await f.metric('switchyard_session_queue_messages'), await f.metric('switchyard_session_queue_bytes')], { what: 'an empty queue', until: ([n, b]) => n === 0 && b === 0 })
  }, 60_000)
})

describe('persistent sessions per user', () => {
  it('refuses an 11th persistent session of an anonymous client\'s address with CONNACK 5; resuming one, and clean sessions, always connect', async () => {
    await f.start()
    for (let i = 1; i <= 10; i++) await f.connect({ clientId: `p-${i}`, clean: false })
    expect(await f.attempt({ clientId: 'p-11', clean: false })).toMatch(/Not authorized/)
    expect(await exceeded('sessions_per_user')).toBe(1)
    await f.endClients()
    // A session it holds resumes; a clean session is no persistent one.
    expect(await f.attempt({ clientId: 'p-2', clean: false })).toBe('connected')
    expect(await f.attempt({ clientId: 'clean-1', clean: true })).toBe('connected')
    // A clean CONNECT with a session's client id ends that session, and frees its place.
    await f.endClients()
    expect(await f.attempt({ clientId: 'p-1', clean: true })).toBe('connected')
    expect(await f.attempt({ clientId: 'p-11', clean: false })).toBe('connected')
    expect(await f.metric('switchyard_persistent_sessions')).toBe(10)
  })

  it('counts an authenticated user\'s sessions under the user, whatever the client id', async () => {
    const hash = await hashPassword('pw')
    await f.start(`auth:\n  users: [ { username: alice, password: '${hash}' }, { username: bob, password: '${hash}' } ]\n`)
    const as = (username: string, clientId: string) => f.attempt({ clientId, clean: false, username, password: 'pw' })
    for (let i = 1; i <= 10; i++) expect(await as('alice', `a-${i}`)).toBe('connected')
    expect(await as('alice', 'a-11')).toMatch(/Not authorized/)
    // Another user, from the same address, has places of their own.
    expect(await as('bob', 'b-1')).toBe('connected')
    expect(await exceeded('sessions_per_user')).toBe(1)
  })

  it('takes limits.sessions.maxPerUser from the config', async () => {
    await f.start('limits:\n  sessions: { maxPerUser: 2 }\n')
    expect(await f.attempt({ clientId: 'q-1', clean: false })).toBe('connected')
    expect(await f.attempt({ clientId: 'q-2', clean: false })).toBe('connected')
    expect(await f.attempt({ clientId: 'q-3', clean: false })).toMatch(/Not authorized/)
  })
})

describe('subscriptions per client', () => {
  it('gives 0x80 to the filters past 100, keeps none of them for a persistent session, and takes new ones once others go', async () => {
    await f.start()
    const c = await f.connect({ clientId: 'greedy', clean: false })
    const first = Array.from({ length: 97 }, (_, i) => `t/${i + 1}`)
    expect(await grants(c, first)).toEqual(first.map(() => 1))
    // One SUBSCRIBE: a replacement of a filter held is no new one [MQTT-3.8.4-3].
    expect(await grants(c, ['t/1', 't/98', 't/99', 't/100', 't/101', 't/102'])).toEqual([1, 1, 1, 1, 128, 128])
    expect(await exceeded('subscriptions_per_client')).toBe(2)

    // Offline, the session is owed messages of its granted filters only.
    await new Promise<void>((resolve) => c.end(false, {}, () => resolve()))
    const publisher = await f.connect()
    for (const topic of ['t/101', 't/102', 't/100']) await publisher.publishAsync(topic, topic, { qos: 1 })
    const { client: back, inbox } = await f.connectWithInbox({ clientId: 'greedy', clean: false })
    // The queue is sent in order: t/101 and t/102, had they been queued, would come first.
    await inbox.on('t/100')
    expect(inbox.messages.map((m) => m.topic)).toEqual(['t/100'])

    // Its 100 filters came back with the session: one more is refused, until one goes.
    expect(await grants(back, ['t/103'])).toEqual([128])
    await back.unsubscribeAsync('t/2')
    expect(await grants(back, ['t/103'])).toEqual([1])
  })

  it('takes limits.subscriptions.maxPerClient from the config', async () => {
    await f.start('limits:\n  subscriptions: { maxPerClient: 2 }\n')
    const c = await f.connect()
    expect(await grants(c, ['a', 'b', 'c'])).toEqual([1, 1, 128])
  })
})

describe('retained messages', () => {
  it('keeps no more than 100 of one client\'s (limits.retained.maxMessagesPerClient), delivers the others live, and always takes a deletion', async () => {
    await f.start()
    const watcher = await f.connect()
    const live = new Inbox(watcher)
    await watcher.subscribeAsync('status/#', { qos: 1 })
    const device = await f.connect({ clientId: 'device' })
    for (let i = 1; i <= 101; i++) await device.publishAsync(`status/${i}`, `s${i}`, { qos: 1, retain: true })
    await live.count(101)
    expect(await exceeded('retained_messages_per_client')).toBe(1)
    expect(await f.metric('switchyard_retained_messages')).toBe(100)
    const hundred = Array.from({ length: 100 }, (_, i) => `status/${i + 1}`)
    expect(await retainedTopics('status/#', 100)).toEqual(hundred.slice().sort())
    // Its own topics can be replaced, and deleted, at the limit.
    await device.publishAsync('status/1', 'again', { qos: 1, retain: true })
    await device.publishAsync('status/2', '', { qos: 1, retain: true })
    await device.publishAsync('status/101', 's101', { qos: 1, retain: true })
    expect(await exceeded('retained_messages_per_client')).toBe(1)
    expect(await f.metric('switchyard_retained_messages')).toBe(100)
    expect(await retainedTopics('status/#', 100)).toEqual([...hundred.filter((t) => t !== 'status/2'), 'status/101'].sort())
    // Another client has its own 100.
    const other = await f.connect({ clientId: 'other' })
    await other.publishAsync('status/other', 'x', { qos: 1, retain: true })
    expect(await f.metric('switchyard_retained_messages')).toBe(101)
  }, 60_000)

  it('keeps no more than 1 MB of one client\'s (limits.retained.maxBytesPerClient)', async () => {
    await f.start()
    const device = await f.connect({ clientId: 'device' })
    await device.publishAsync('big/1', Buffer.alloc(600 * 1024, 1), { qos: 1, retain: true })
    await device.publishAsync('big/2', Buffer.alloc(600 * 1024, 2), { qos: 1, retain: true })
    expect(await exceeded('retained_bytes_per_client')).toBe(1)
    expect(await f.metric('switchyard_retained_messages')).toBe(1)
    expect(await retainedTopics('big/#', 1)).toEqual(['big/1'])
  })

  it('keeps no more than maxMessages and maxBytes of everyone\'s, and no more than maxBytesPerClient of one client\'s', async () => {
    await f.start('limits:\n  retained: { maxMessages: 4, maxBytes: 64KB, maxBytesPerClient: 40KB }\n')
    const a = await f.connect({ clientId: 'a' })
    const b = await f.connect({ clientId: 'b' })
    const c = await f.connect({ clientId: 'c' })
    const kb = (n: number) => Buffer.alloc(n * 1024, 1)
    await a.publishAsync('r/a1', kb(41), { qos: 1, retain: true })
    expect(await exceeded('retained_bytes_per_client')).toBe(1)
    for (const [client, topic] of [[a, 'r/a2'], [a, 'r/a3'], [b, 'r/b1'], [b, 'r/b2'], [c, 'r/c1']] as const) {
      await client.publishAsync(topic, kb(1), { qos: 1, retain: true })
    }
    expect(await exceeded('retained_messages')).toBe(1)
    expect(await f.metric('switchyard_retained_messages')).toBe(4)
    expect(await retainedTopics('r/#', 4)).toEqual(['r/a2', 'r/a3', 'r/b1', 'r/b2'])
    // Growing a kept message past the total is refused too, and it keeps what it had.
    for (const [client, topic] of [[a, 'r/a2'], [a, 'r/a3'], [b, 'r/b1'], [b, 'r/b2']] as const) {
      await client.publishAsync(topic, kb(16), { qos: 1, retain: true })
    }
    expect(await exceeded('retained_bytes')).toBe(1)
    expect(await exceeded('retained_bytes_per_client')).toBe(1)
    expect(await f.metric('switchyard_retained_bytes')).toBeLessThanOrEqual(64 * 1024)
  })
})

/**
 * The topics of the retained messages a new subscriber to `filter` gets,
 * sorted, once it has `n` of them (switchyard_retained_messages says there
 * are no more).
 */
async function retainedTopics(filter: string, n: number): Promise<string[]> {
  const c = await f.connect()
  const inbox = new Inbox(c)
  await c.subscribeAsync(filter, { qos: 1 })
  await inbox.count(n)
  await new Promise<void>((resolve) => c.end(false, {}, () => resolve()))
  return inbox.messages.map((m) => m.topic).sort()
}

describe('rows of the store action', () => {
  it('keeps the newest maxRows of a table, by the action\'s maxRows or limits.store.maxRows, and counts the rows deleted', async () => {
    await f.start(`limits:
  store: { maxRows: 3 }
rules:
  - name: keep
    sql: SELECT * FROM 'log/#'
    actions:
      - store: { table: capped, maxRows: 5 }
      - store: { table: defaulted }
`)
    const publisher = await f.connect()
    for (let i = 1; i <= 8; i++) await publisher.publishAsync(`log/${i}`, JSON.stringify({ i }), { qos: 1 })
    const newest = (table: string) => waitUntil(() => f.api(`/store/${table}`), { what: `log/8 stored in ${table}`, until: (body) => body.events?.[0]?.topic === 'log/8' })
    expect((await newest('capped')).events.map((e: { topic: string }) => e.topic)).toEqual(['log/8', 'log/7', 'log/6', 'log/5', 'log/4'])
    expect((await newest('defaulted')).events.map((e: { topic: string }) => e.topic)).toEqual(['log/8', 'log/7', 'log/6'])
    const metrics = await metricsText(f.app.httpUrl)
    expect(sampleOf(metrics, 'switchyard_store_rows_trimmed_total{table="capped"}')).toBe(3)
    expect(sampleOf(metrics, 'switchyard_store_rows_trimmed_total{table="defaulted"}')).toBe(5)
    expect(sampleOf(metrics, 'switchyard_store_rows{table="capped"}')).toBe(5)
    expect(sampleOf(metrics, 'switchyard_store_rows{table="defaulted"}')).toBe(3)
    expect(sampleOf(metrics, 'switchyard_limit_exceeded_total{limit="store_rows"}')).toBeGreaterThan(0)
  })
})

describe('/metrics', () => {
  it('reports each storage limit as configured, and what is stored', async () => {
    await f.start()
    const c = await f.connect({ clientId: 'd', clean: false })
    await c.publishAsync('state/d', 'on', { qos: 1, retain: true })
    const metrics = await metricsText(f.app.httpUrl)
    expect(sampleOf(metrics, 'switchyard_limit{limit="retained_bytes"}')).toBe(64 * 1024 * 1024)
    expect(sampleOf(metrics, 'switchyard_limit{limit="retained_messages"}')).toBe(10_000)
    expect(sampleOf(metrics, 'switchyard_limit{limit="session_messages"}')).toBe(1000)
    expect(sampleOf(metrics, 'switchyard_limit{limit="session_bytes"}')).toBe(1024 * 1024)
    expect(sampleOf(metrics, 'switchyard_limit{limit="sessions_per_user"}')).toBe(10)
    expect(sampleOf(metrics, 'switchyard_limit{limit="subscriptions_per_client"}')).toBe(100)
    expect(sampleOf(metrics, 'switchyard_limit{limit="store_rows"}')).toBe(100_000)
    expect(sampleOf(metrics, 'switchyard_retained_messages')).toBe(1)
    expect(sampleOf(metrics, 'switchyard_retained_bytes')).toBeGreaterThan(2)
    expect(sampleOf(metrics, 'switchyard_persistent_sessions')).toBe(1)
    expect(sampleOf(metrics, 'switchyard_session_queue_messages')).toBe(0)
  })
})

describe('the quotas in the config', () => {
  it('are checked when the config loads, with the file, line and column of a mistake', () => {
    const mistake = (yaml: string) => {
      try {
        parseConfig(yaml, 'conf/switchyard.yaml')
      } catch (err) {
        expect(err).toBeInstanceOf(ConfigError)
        return (err as Error).message
      }
      throw new Error('expected a ConfigError')
    }
    expect(mistake('limits:\n  sessions:\n    maxPerUser: -1\n')).toBe('conf/switchyard.yaml:3:17: limits.sessions.maxPerUser must not be negative (0 for no limit)')
    expect(mistake('limits:\n  retained: { maxBytes: lots }\n')).toMatch(/^conf\/switchyard\.yaml:2:25: limits\.retained\.maxBytes must be a size such as 65536, 64KB or 1MB/)
    expect(mistake('limits:\n  store: { maxRow: 5 }\n')).toMatch(/^conf\/switchyard\.yaml:2:12: limits\.store\.maxRow is not a known key \(expected one of: maxRows\)/)
    expect(mistake("rules:\n  - name: r\n    sql: SELECT * FROM 'a'\n    actions:\n      - store: { table: t, maxRows: 1.5 }\n")).toMatch(/:5:37: rules\[0\]\.actions\[0\]\.store\.maxRows must be a whole number of rows/)
  })

  it('change with a reload, from the next write', async () => {
    const t = await f.start('limits:\n  subscriptions: { maxPerClient: 1 }\n')
    const c = await f.connect()
    expect(await grants(c, ['a', 'b'])).toEqual([1, 128])
    const file = join(t.dir, 'switchyard.yaml')
    writeFileSync(file, readFileSync(file, 'utf8').replace('maxPerClient: 1', 'maxPerClient: 2'))
    expect(t.app.reload().ok).toBe(true)
    expect(await grants(c, ['b', 'c'])).toEqual([1, 128])
    expect(await f.metric('switchyard_limit{limit="subscriptions_per_client"}')).toBe(2)
  })
})
