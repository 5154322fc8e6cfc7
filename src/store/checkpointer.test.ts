import { statSync } from 'node:fs'
import { join } from 'node:path'
import { pino } from 'pino'
import { afterEach, describe, expect, it } from 'vitest'
import { tempDir } from '../../test/helpers/app.js'
import { checkpointPace, startCheckpointer, type Checkpointer } from './checkpointer.js'
import { commitGate } from './commit-gate.js'
import { closeDatabase, openDatabase, type Db } from './database.js'
import { EventStore } from './event-store.js'

let temp: ReturnType<typeof tempDir> | undefined
let db: Db | undefined
let checkpointer: Checkpointer | undefined
afterEach(async () => {
  await checkpointer?.stop()
  if (db) closeDatabase(db)
  temp?.remove()
})

/** A database in a temporary folder, with its checkpointer started (both undone after the test). */
function onFile(): { path: string; db: Db } {
  temp = tempDir()
  const path = join(temp.dir, 'store.db')
  db = openDatabase(path)
  checkpointer = startCheckpointer(db, path, pino({ level: 'silent' }))
  return { path, db }
}

it('copies the WAL into the database file from its own thread, while the main connection never checkpoints', async () => {
  const { path, db } = onFile()
  expect(db.pragma('wal_autocheckpoint', { simple: true })).toBe(0)
  db.exec('CREATE TABLE t (x BLOB)')
  const insert = db.prepare('INSERT INTO t (x) VALUES (?)')
  const before = statSync(path).size
  // 8 MB in many small commits: far past the 1,000 pages at which the main
  // connection would have checkpointed by itself.
  for (let i = 0; i < 200; i++) db.transaction(() => { for (let j = 0; j < 10; j++) insert.run(Buffer.alloc(4000, i)) })()
  await expect.poll(() => statSync(path).size, { timeout: 5000 }).toBeGreaterThan(before + 7 * 1024 * 1024)
  expect(db.prepare('SELECT count(*) FROM t').pluck().get()).toBe(2000)
})

it('starts its thread only once the WAL reaches the 1,000 pages at which SQLite would have checkpointed', async () => {
  const { path, db } = onFile()
  db.exec('CREATE TABLE t (x BLOB)')
  const insert = db.prepare('INSERT INTO t (x) VALUES (?)')
  // A few pages: what a broker of clean sessions writes when clients come and go.
  for (let i = 0; i < 10; i++) insert.run(Buffer.alloc(100, i))
  expect(statSync(`${path}-wal`).size).toBeLessThan(1000 * 4096)
  expect(checkpointer!.started).toBe(false)
  // 4,000 pages of 4 KB: past the mark; the thread starts and checkpoints them.
  const before = statSync(path).size
  for (let i = 0; i < 400; i++) db.transaction(() => { for (let j = 0; j < 10; j++) insert.run(Buffer.alloc(4000, i)) })()
  await expect.poll(() => checkpointer!.started, { timeout: 5000 }).toBe(true)
  await expect.poll(() => statSync(path).size, { timeout: 5000 }).toBeGreaterThan(before + 15 * 1024 * 1024)
  expect(db.pragma('wal_autocheckpoint', { simple: true })).toBe(0)
})

it('starts the WAL again from its beginning under commits that never pause: its file stops growing', async () => {
  const { path, db } = onFile()
  const store = new EventStore(db)
  const walBytes = () => statSync(`${path}-wal`, { throwIfNoEntry: false })?.size ?? 0
  const data = { reading: 'x'.repeat(400) }
  // Every turn appends and commits, as a store rule under a steady load
  // does, for 4 s: tens of MB of WAL a second here. A checkpoint copies the
  // frames that were there when it began, and a commit always lands during
  // it: without a checkpoint that holds the commits back, the WAL grows all
  // the while. With one, it reaches its largest before the thread has
  // caught up (it starts once the WAL has 1,000 pages, and checkpoints
  // within 200 ms), and then stays under it.
  const started = performance.now()
  let appended = 0
  let afterWarmUp = 0
  while (performance.now() - started < 4000) {
    const turn: Array<Promise<void>> = []
    for (let i = 0; i < 200; i++) turn.push(store.append({ table: 'steady', key: null, timestamp: Date.now(), topic: 't', clientId: null, data, expiresAt: null }))
    appended += turn.length
    await Promise.all(turn)
    if (afterWarmUp === 0 && performance.now() - started > 1500) afterWarmUp = walBytes()
  }
  const atEnd = walBytes()
  expect(checkpointer!.started).toBe(true)
  expect((await store.rowCounts()).get('steady')).toBe(appended)
  expect(appended).toBeGreaterThan(50_000)
  expect(afterWarmUp).toBeGreaterThan(0)
  expect(atEnd).toBeLessThanOrEqual(afterWarmUp + 4 * 1024 * 1024)
})

it('holds no commit back once the load has stopped, but for one checkpoint: the next commit starts the WAL again', async () => {
  const { db } = onFile()
  db.exec('CREATE TABLE t (x BLOB)')
  const insert = db.prepare('INSERT INTO t (x) VALUES (?)')
  // 8,000 pages of 4 KB in one go, past the 4,096 frames at which a held checkpoint is due, then nothing.
  for (let i = 0; i < 800; i++) db.transaction(() => { for (let j = 0; j < 10; j++) insert.run(Buffer.alloc(4000, i)) })()
  await expect.poll(() => checkpointer!.started, { timeout: 5000 }).toBe(true)
  const gate = commitGate(db)
  const open = gate.open.bind(gate)
  let held = 0
  gate.open = (force) => {
    held++
    open(force)
  }
  // Five paced checkpoints or more (one every 200 ms with nothing to copy):
  // the first holds the commits back, and finds the WAL copied; the others
  // find it as it was.
  await new Promise((resolve) => setTimeout(resolve, 1200))
  expect(held).toBeLessThanOrEqual(1)
  // The next commit starts the WAL again: its frames go to its beginning.
  insert.run(Buffer.alloc(100))
  const [result] = db.pragma('wal_checkpoint(PASSIVE)') as Array<{ log: number }>
  expect(result!.log).toBeLessThan(10)
})

it('hands checkpoints back to the main connection when it stops', async () => {
  const { db } = onFile()
  await checkpointer!.stop()
  expect(db.pragma('wal_autocheckpoint', { simple: true })).toBe(1000)
})

it('has nothing to do for a database in memory', () => {
  db = openDatabase(':memory:')
  expect(startCheckpointer(db, ':memory:', pino({ level: 'silent' }))).toBeUndefined()
})

describe('checkpointPace', () => {
  const pacing = { frames: 1000, minMs: 20, maxMs: 200 }

  it('waits so that each checkpoint copies about the frames asked for', () => {
    // 3,000 frames came in 200 ms: the next in a third of that.
    expect(checkpointPace(200, 3000, pacing)).toBe(67)
    // 500 in 60 ms: the next in twice that.
    expect(checkpointPace(60, 500, pacing)).toBe(120)
  })

  it('stays within its shortest and longest waits', () => {
    expect(checkpointPace(20, 50_000, pacing)).toBe(20)
    expect(checkpointPace(200, 10, pacing)).toBe(200)
  })

  it('waits the longest when nothing was copied or the checkpoint failed', () => {
    expect(checkpointPace(20, 0, pacing)).toBe(200)
    expect(checkpointPace(20, -1, pacing)).toBe(200)
  })
})
