import Database from 'better-sqlite3'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, expect, it } from 'vitest'
import { closeDatabase, openDatabase } from '../store/database.js'
import { createSqlitePersistence } from './index.js'

let dir: string
let db: Database.Database
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'switchyard-persistence-'))
  db = openDatabase(join(dir, 'switchyard.db'))
  // Another store's table in the same file.
  db.exec('CREATE TABLE events (id INTEGER PRIMARY KEY, body TEXT)')
})
afterEach(() => {
  closeDatabase(db)
  rmSync(dir, { recursive: true, force: true })
})

const broker = { id: 'broker-1' }
const client = { id: 'device-1' }

it('shares a database with other stores, in tables of its own, and leaves it open on destroy', async () => {
  const persistence = createSqlitePersistence({ db })
  await persistence.setup(broker)
  await persistence.addSubscriptions(client, [{ topic: 'orders/#', qos: 1 }])
  db.prepare('INSERT INTO events (body) VALUES (?)').run('written by another store')

  await persistence.destroy()
  expect(db.open).toBe(true)
  expect(db.prepare('SELECT body FROM events').pluck().all()).toEqual(['written by another store'])
  const tables = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT IN ('events', 'sqlite_sequence')").pluck().all()
  expect(tables.sort()).toEqual(['mqtt_incoming', 'mqtt_outgoing', 'mqtt_retained', 'mqtt_schema', 'mqtt_session_marks', 'mqtt_sessions', 'mqtt_subscriptions', 'mqtt_wills'])

  // The next persistence on the same handle finds what the first wrote.
  const next = createSqlitePersistence({ db })
  await next.setup(broker)
  expect(await next.subscriptionsByClient(client)).toMatchObject([{ topic: 'orders/#', qos: 1 }])
  await next.destroy()
  expect(db.open).toBe(true)
})

it('closes a database it opened itself, in WAL mode', async () => {
  const file = join(dir, 'own.db')
  const persistence = createSqlitePersistence({ path: file })
  await persistence.setup(broker)
  await persistence.storeRetained({ cmd: 'publish', topic: 'a', payload: Buffer.from('x'), qos: 0, retain: true })
  expect(existsSync(`${file}-wal`)).toBe(true)
  await persistence.destroy()
  // The last connection to close checkpoints the WAL into the file and removes it.
  expect(existsSync(`${file}-wal`)).toBe(false)
  const reopened = new Database(file)
  expect(reopened.pragma('journal_mode', { simple: true })).toBe('wal')
  expect(reopened.prepare('SELECT topic FROM mqtt_retained').pluck().all()).toEqual(['a'])
  reopened.close()
})

it('refuses calls once destroyed, and a second destroy is harmless', async () => {
  const persistence = createSqlitePersistence({ db })
  await persistence.setup(broker)
  await persistence.destroy()
  await persistence.destroy()
  await expect(persistence.subscriptionsByTopic('a')).rejects.toThrow('the session store is destroyed')
  await expect(persistence.setup(broker)).rejects.toThrow('the session store is destroyed')
})

it('refuses calls before setup, with a message that says so', async () => {
  const persistence = createSqlitePersistence({ db })
  await expect(persistence.storeRetained({ topic: 'a', payload: Buffer.from('x') })).rejects.toThrow('not set up')
})

it('takes either a path or a db, not both', () => {
  expect(() => createSqlitePersistence({ db, path: ':memory:' })).toThrow('either path or db')
})

it('creates its tables once: a second setup on the same database changes nothing', async () => {
  const first = createSqlitePersistence({ db })
  await first.setup(broker)
  await first.storeRetained({ cmd: 'publish', topic: 'a', payload: Buffer.from('kept'), qos: 0, retain: true })
  const second = createSqlitePersistence({ db })
  await second.setup(broker)
  expect(await second.createRetainedStream('a').toArray()).toMatchObject([{ topic: 'a', payload: Buffer.from('kept') }])
  expect(db.prepare('SELECT version FROM mqtt_schema').pluck().all()).toEqual([3])
})

it('refuses a database written by a newer version', async () => {
  db.exec('CREATE TABLE mqtt_schema (id INTEGER PRIMARY KEY CHECK (id = 1), version INTEGER NOT NULL) STRICT')
  db.exec('INSERT INTO mqtt_schema (id, version) VALUES (1, 99)')
  const persistence = createSqlitePersistence({ db })
  await expect(persistence.setup(broker)).rejects.toThrow(/schema version 99, newer than this version of Switchyard understands/)
})
