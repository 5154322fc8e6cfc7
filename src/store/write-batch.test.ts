import Database from 'better-sqlite3'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, expect, it } from 'vitest'
import { closeDatabase, openDatabase } from './database.js'
import { longCommitScheduled } from './turn-commits.js'
import { WriteBatch } from './write-batch.js'
import { createSqlitePersistence, type SqlitePersistence } from '../persistence/index.js'

// The writes of one turn share a commit: what another connection to the file
// sees tells when that commit happened.

let dir: string
let db: Database.Database
let other: Database.Database
let persistence: SqlitePersistence
beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'switchyard-persistence-'))
  db = openDatabase(join(dir, 'sessions.db'))
  other = new Database(join(dir, 'sessions.db'))
  persistence = createSqlitePersistence({ db })
  await persistence.setup({ id: 'broker' })
})
afterEach(async () => {
  await persistence.destroy()
  other.close()
  closeDatabase(db)
  rmSync(dir, { recursive: true, force: true })
})

const client = { id: 'device-1' }
const queued = () => other.prepare('SELECT count(*) FROM mqtt_outgoing').pluck().get()
const packet = (i: number) => ({ cmd: 'publish', topic: `t/${i}`, payload: Buffer.from(`${i}`), qos: 1, brokerId: 'broker', brokerCounter: i })

it('commits the writes of one turn together, before any of their promises resolves', async () => {
  const writes = [1, 2, 3].map((i) => persistence.outgoingEnqueue({ clientId: client.id }, packet(i)))
  expect(queued()).toBe(0)
  const seenByFirst = writes[0]!.then(() => queued())
  await Promise.all(writes)
  expect(await seenByFirst).toBe(3)
})

it('lets a read see the writes asked for before it, committed or not', async () => {
  const enqueued = persistence.outgoingEnqueueCombi([{ clientId: client.id }], packet(1))
  const updated = persistence.outgoingUpdate(client, { ...packet(1), messageId: 9 })
  expect(await persistence.outgoingStream(client).toArray()).toMatchObject([{ topic: 't/1', messageId: 9 }])
  const stored = persistence.storeRetained({ cmd: 'publish', topic: 'r', payload: Buffer.from('x'), qos: 0, retain: true })
  expect(await persistence.createRetainedStream('r').toArray()).toHaveLength(1)
  await Promise.all([enqueued, updated, stored])
})

it('fails a write alone when only it fails', async () => {
  const enqueued = persistence.outgoingEnqueue({ clientId: client.id }, packet(1))
  const missing = persistence.outgoingUpdate(client, { cmd: 'pubrel', messageId: 3 })
  const deleted = persistence.incomingDelPacket(client, { messageId: 5 })
  await expect(missing).rejects.toThrow('no such packet')
  await expect(deleted).rejects.toThrow('no such packet')
  await enqueued
  expect(queued()).toBe(1)
})

it('rejects the writes SQLite refused, and forgets the subscriptions they made in memory', async () => {
  await persistence.addSubscriptions(client, [{ topic: 'kept', qos: 1 }])
  // Another process holds the write lock, and this one does not wait for it.
  db.pragma('busy_timeout = 0')
  other.exec('BEGIN IMMEDIATE')
  const refused = persistence.addSubscriptions(client, [{ topic: 'lost', qos: 1 }])
  expect(await persistence.subscriptionsByTopic('lost')).toHaveLength(1)
  await expect(refused).rejects.toThrow(/locked/)
  other.exec('ROLLBACK')
  expect(await persistence.subscriptionsByTopic('lost')).toEqual([])
  expect((await persistence.subscriptionsByClient(client)).map((s) => s.topic)).toEqual(['kept'])
})

it('commits what is pending when destroyed', async () => {
  const write = persistence.outgoingEnqueue({ clientId: client.id }, packet(1))
  await persistence.destroy()
  await write
  expect(queued()).toBe(1)
})

it('counts its writes among those of a long commit to come, until its commit has run at the turn\'s end or at once', async () => {
  const batch = new WriteBatch(db, () => {})
  db.exec('CREATE TABLE marks (n INTEGER)')
  const insert = db.prepare('INSERT INTO marks VALUES (?)')
  const writes = (from: number, n: number) => Array.from({ length: n }, (_, i) => batch.run(() => insert.run(from + i)))
  const short = writes(0, 127)
  expect(longCommitScheduled()).toBe(false)
  const long = writes(127, 1)
  expect(longCommitScheduled()).toBe(true)
  await Promise.all([...short, ...long])
  expect(longCommitScheduled()).toBe(false)
  const atOnce = writes(128, 300)
  expect(longCommitScheduled()).toBe(true)
  batch.flush()
  expect(longCommitScheduled()).toBe(false)
  await Promise.all(atOnce)
  expect(db.prepare('SELECT count(*) FROM marks').pluck().get()).toBe(428)
})
