import { afterEach, beforeEach, expect, it } from 'vitest'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import v8 from 'node:v8'
import { runInNewContext } from 'node:vm'
import { StoreError } from '../errors.js'
import { closeDatabase, openDatabase, type Db } from './database.js'
import { EventStore, type NewEvent } from './event-store.js'
import { longCommitScheduled } from './turn-commits.js'

let db: Db
let store: EventStore
beforeEach(() => {
  db = openDatabase(':memory:')
  store = new EventStore(db)
})
afterEach(() => closeDatabase(db))

const event = (topic: string, data: unknown): NewEvent => ({ table: 'readings', key: null, timestamp: Date.now(), topic, clientId: 'c', data, expiresAt: null })

it('refuses an event whose data cannot be written as JSON, alone: the others of its turn are committed', async () => {
  let deep: unknown = []
  for (let i = 0; i < 100_000; i++) deep = [deep]
  const circular: Record<string, unknown> = {}
  circular.self = circular
  const outcomes = await Promise.allSettled([
    store.append(event('a', { n: 1 })),
    store.append(event('deep', deep)),
    store.append(event('circular', circular)),
    store.append(event('b', { n: 2 })),
  ])
  expect(outcomes.map((o) => o.status)).toEqual(['fulfilled', 'rejected', 'rejected', 'fulfilled'])
  const [, tooDeep, loop] = outcomes as PromiseRejectedResult[]
  expect(tooDeep!.reason).toBeInstanceOf(StoreError)
  expect(tooDeep!.reason.message).toBe('cannot store the event in table readings: its data is nested too deeply to be written as JSON')
  expect(loop!.reason.message).toMatch(/^cannot store the event in table readings: its data cannot be written as JSON \(/)
  expect((await store.query('readings')).map((e) => e.topic)).toEqual(['b', 'a'])
})

it('commits in batches of at most 2,000, one per turn, and everything at once when flushed at close', async () => {
  // The store makes its transaction when it is made: count the runs of the one made now.
  const commits: number[] = []
  const transaction = db.transaction.bind(db)
  db.transaction = ((fn: (...args: unknown[]) => unknown) => {
    const run = transaction(fn)
    return (...args: unknown[]) => {
      commits.push(1)
      return run(...args)
    }
  }) as typeof db.transaction
  store = new EventStore(db)
  const first = Array.from({ length: 4500 }, (_, i) => store.append(event(`t/${i}`, { i })))
  await Promise.all(first)
  expect(commits).toHaveLength(3)
  expect(db.prepare('SELECT count(*) AS n FROM store_events').get()).toEqual({ n: 4500 })

  // At close nothing waits for a later turn: all of it is committed now.
  const last = Array.from({ length: 4500 }, (_, i) => store.append(event(`u/${i}`, { i })))
  store.flush()
  expect(db.prepare('SELECT count(*) AS n FROM store_events').get()).toEqual({ n: 9000 })
  expect(commits).toHaveLength(6)
  await Promise.all(last)
})

it('keeps only the row of an event waiting for its commit, not the data it was given', async () => {
  v8.setFlagsFromString('--expose-gc')
  const gc = runInNewContext('gc') as () => void
  const outcome = await new Promise<{ collected: boolean; committed: Promise<void> }>((resolve) => {
    setImmediate(() => {
      const data = { reading: 21.5, tags: ['a', 'b'] }
      const given = new WeakRef(data)
      // Queued before the store's commit, in a later job (a WeakRef keeps
      // its target through the job that made it).
      setImmediate(() => {
        gc()
        resolve({ collected: given.deref() === undefined, committed })
      })
      const committed = store.append(event('t', data))
    })
  })
  expect(await store.query('readings')).toEqual([])
  expect(outcome.collected).toBe(true)
  await outcome.committed
  expect((await store.query('readings'))[0]!.data).toEqual({ reading: 21.5, tags: ['a', 'b'] })
})

it('counts its rows among the writes of a long commit to come, batch after batch', async () => {
  expect(longCommitScheduled()).toBe(false)
  const appends = Array.from({ length: 2050 }, (_, i) => store.append(event(`t/${i}`, { i })))
  expect(longCommitScheduled()).toBe(true)
  await appends[0]
  // The second batch, of 50, is committed in the next turn: a short commit.
  expect(longCommitScheduled()).toBe(false)
  await appends[2049]
  expect(longCommitScheduled()).toBe(false)
})

it('writes a turn\'s events in the order appended, whether sixteen to a statement or one, each with its own columns', async () => {
  const at = Date.now()
  const appends = Array.from({ length: 37 }, (_, i) =>
    store.append({ table: i % 2 ? 'odd' : 'even', key: `k${i % 3}`, timestamp: at, topic: `t/${i}`, clientId: `c${i}`, data: { i }, expiresAt: i === 36 ? at + 60_000 : null }),
  )
  await Promise.all(appends)
  const even = await store.query('even', { limit: 1000 })
  expect(even.map((e) => e.topic)).toEqual(Array.from({ length: 19 }, (_, i) => `t/${36 - 2 * i}`))
  expect(even.map((e) => e.data)).toEqual(Array.from({ length: 19 }, (_, i) => ({ i: 36 - 2 * i })))
  expect(even[0]).toMatchObject({ key: 'k0', clientId: 'c36', expiresAt: at + 60_000 })
  expect(even[1]).toMatchObject({ key: 'k1', clientId: 'c34', expiresAt: null })
  const odd = await store.query('odd', { key: 'k2', limit: 1000 })
  expect(odd.map((e) => e.topic)).toEqual(['t/35', 't/29', 't/23', 't/17', 't/11', 't/5'])
  expect((await store.rowCounts()).get('odd')).toBe(18)
})

it('fails a whole batch when one of its rows breaks a constraint in the middle of a statement, and keeps none of it', async () => {
  await store.append(event('before', { n: 0 }))
  // A topic is NOT NULL: the fifth row of the first statement of sixteen breaks it.
  const appends = Array.from({ length: 20 }, (_, i) => store.append(event(i === 4 ? (null as unknown as string) : `t/${i}`, { i })))
  const outcomes = await Promise.allSettled(appends)
  expect(outcomes.every((o) => o.status === 'rejected')).toBe(true)
  expect(String((outcomes[0] as PromiseRejectedResult).reason)).toMatch(/NOT NULL constraint failed: store_events\.topic/)
  expect((await store.query('readings')).map((e) => e.topic)).toEqual(['before'])
  expect((await store.rowCounts()).get('readings')).toBe(1)
  await store.append(event('after', { n: 1 }))
  expect((await store.query('readings')).map((e) => e.topic)).toEqual(['after', 'before'])
  expect((await store.rowCounts()).get('readings')).toBe(2)
})

it('keeps an index entry by key only for keyed events, and reads a key through it, in a database made before', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'switchyard-events-'))
  const file = join(dir, 'events.db')
  const before = openDatabase(file)
  // The table and indexes as the first schema made them, with an event of each kind.
  before.exec(`CREATE TABLE store_events (id INTEGER PRIMARY KEY, tbl TEXT NOT NULL, key TEXT, ts INTEGER NOT NULL, topic TEXT NOT NULL, client_id TEXT, data TEXT NOT NULL, expires_at INTEGER);
    CREATE INDEX store_events_by_key ON store_events (tbl, key, ts);
    CREATE INDEX store_events_by_time ON store_events (tbl, ts);
    CREATE INDEX store_events_by_expiry ON store_events (expires_at) WHERE expires_at IS NOT NULL;
    CREATE TABLE switchyard_migrations (component TEXT PRIMARY KEY, version INTEGER NOT NULL);
    INSERT INTO switchyard_migrations VALUES ('store_events', 1);
    INSERT INTO store_events (tbl, key, ts, topic, client_id, data) VALUES ('rooms', 'lobby', 1, 'old/keyed', 'c', '{"n":1}'), ('rooms', NULL, 2, 'old/keyless', 'c', '{"n":2}');`)
  closeDatabase(before)
  const reopened = openDatabase(file)
  try {
    const events = new EventStore(reopened)
    await events.append({ table: 'rooms', key: 'lobby', timestamp: 3, topic: 'new/keyed', clientId: 'c', data: { n: 3 }, expiresAt: null })
    await events.append({ table: 'rooms', key: null, timestamp: 4, topic: 'new/keyless', clientId: 'c', data: { n: 4 }, expiresAt: null })
    expect((await events.query('rooms', { key: 'lobby' })).map((e) => e.topic)).toEqual(['new/keyed', 'old/keyed'])
    expect((await events.query('rooms')).map((e) => e.topic)).toEqual(['new/keyless', 'new/keyed', 'old/keyless', 'old/keyed'])
    expect(reopened.prepare("SELECT count(*) AS n FROM pragma_index_info('store_events_by_key')").get()).toEqual({ n: 3 })
    expect(reopened.prepare("SELECT partial FROM pragma_index_list('store_events') WHERE name = 'store_events_by_key'").get()).toEqual({ partial: 1 })
    const plan = (where: string, ...args: unknown[]) =>
      reopened.prepare(`EXPLAIN QUERY PLAN SELECT id FROM store_events WHERE ${where} ORDER BY ts DESC, id DESC LIMIT 10`).all(...args).map((r) => (r as { detail: string }).detail).join('; ')
    expect(plan('tbl = ? AND (expires_at IS NULL OR expires_at > ?) AND key = ?', 'rooms', 0, 'lobby')).toMatch(/USING INDEX store_events_by_key \(tbl=\? AND key=\?\)/)
    expect(plan('tbl = ? AND (expires_at IS NULL OR expires_at > ?) AND key = ? AND ts >= ?', 'rooms', 0, 'lobby', 2)).toMatch(/USING INDEX store_events_by_key \(tbl=\? AND key=\? AND ts>\?\)/)
  } finally {
    closeDatabase(reopened)
    rmSync(dir, { recursive: true, force: true })
  }
})
