import { once } from 'node:events'
import { Worker } from 'node:worker_threads'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { CommitGate, commitGate, holdingCommits } from './commit-gate.js'
import { closeDatabase, openDatabase, type Db } from './database.js'
import { EventStore } from './event-store.js'
import { WriteBatch } from './write-batch.js'

/** Holds `gate` as the checkpointer's thread does, from this thread: its flags are only memory. */
const hold = (gate: CommitGate) => Atomics.store(new Int32Array(gate.shared), 0, 1)
const letGo = (gate: CommitGate) => {
  Atomics.store(new Int32Array(gate.shared), 0, 0)
  gate.open()
}

let db: Db | undefined
afterEach(() => {
  vi.useRealTimers()
  if (db) closeDatabase(db)
  db = undefined
})

describe('CommitGate', () => {
  it('runs a commit at once while it is open', () => {
    const gate = new CommitGate()
    const ran: string[] = []
    expect(gate.pass(() => ran.push('a'))).toBe(true)
    expect(ran).toEqual(['a'])
  })

  it('keeps commits waiting while the checkpointer holds it, and runs them in order when it lets go', () => {
    const gate = new CommitGate()
    const ran: string[] = []
    hold(gate)
    expect(gate.held).toBe(true)
    expect(gate.pass(() => ran.push('a'))).toBe(false)
    expect(gate.pass(() => ran.push('b'))).toBe(false)
    expect(ran).toEqual([])
    letGo(gate)
    expect(ran).toEqual(['a', 'b'])
  })

  it('keeps them waiting still when the checkpointer holds it again before it is told to open', () => {
    const gate = new CommitGate()
    const ran: string[] = []
    hold(gate)
    gate.pass(() => ran.push('a'))
    gate.open()
    expect(ran).toEqual([])
    letGo(gate)
    expect(ran).toEqual(['a'])
  })

  it('opens by itself after 1 s without word from the checkpointer, and at once when its thread is gone', () => {
    vi.useFakeTimers()
    const gate = new CommitGate()
    const ran: string[] = []
    hold(gate)
    gate.pass(() => ran.push('late'))
    vi.advanceTimersByTime(999)
    expect(ran).toEqual([])
    vi.advanceTimersByTime(1)
    expect(ran).toEqual(['late'])
    expect(gate.held).toBe(false)

    hold(gate)
    gate.pass(() => ran.push('gone'))
    gate.open(true)
    expect(ran).toEqual(['late', 'gone'])
    expect(gate.held).toBe(false)
  })

  it('lets a commit under way finish before the checkpointer\'s thread goes on', async () => {
    const gate = new CommitGate()
    // [0] set by this thread when its commit ends; [1] what the thread saw of it when its checkpoint ran.
    const seen = new Int32Array(new SharedArrayBuffer(8))
    const worker = new Worker(`
      const { workerData, parentPort } = require('node:worker_threads')
      const holdingCommits = ${holdingCommits.toString()}
      const seen = new Int32Array(workerData.seen)
      parentPort.on('message', () => {
        holdingCommits(workerData.gate, () => Atomics.store(seen, 1, Atomics.load(seen, 0) + 1))
        parentPort.postMessage('done')
      })
      parentPort.postMessage('ready')
    `, { eval: true, workerData: { gate: gate.shared, seen: seen.buffer } })
    try {
      await once(worker, 'message')
      const done = once(worker, 'message')
      gate.pass(() => {
        // The thread is told to checkpoint in the middle of this commit, which then takes 200 ms more.
        worker.postMessage('go')
        const until = Date.now() + 200
        while (Date.now() < until) { /* the commit's work */ }
        Atomics.store(seen, 0, 1)
      })
      await done
      // 2: its checkpoint ran after the commit had ended.
      expect(Atomics.load(seen, 1)).toBe(2)
      expect(gate.held).toBe(false)
    } finally {
      await worker.terminate()
    }
  })
})

describe('the stores behind the gate', () => {
  const event = { table: 'held', key: null, timestamp: 1, topic: 't', clientId: null, data: { n: 1 }, expiresAt: null }
  const count = () => db!.prepare('SELECT count(*) FROM store_events').pluck().get()

  it('the event store commits a turn\'s appends once the gate opens, and all of them at close however it stands', async () => {
    db = openDatabase(':memory:')
    const store = new EventStore(db)
    const gate = commitGate(db)
    hold(gate)
    const committed = store.append(event)
    await new Promise((resolve) => setTimeout(resolve, 20))
    expect(count()).toBe(0)
    letGo(gate)
    await committed
    expect(count()).toBe(1)

    hold(gate)
    void store.append(event)
    await new Promise((resolve) => setImmediate(resolve))
    await store.flush()
    expect(count()).toBe(2)
    letGo(gate)
  })

  it('a write batch commits once the gate opens, and at once when a read needs what it holds', async () => {
    db = openDatabase(':memory:')
    db.exec('CREATE TABLE t (x)')
    const batch = new WriteBatch(db, () => {})
    const gate = commitGate(db)
    const rows = () => db!.prepare('SELECT count(*) FROM t').pluck().get()
    hold(gate)
    const first = batch.run(() => db!.prepare('INSERT INTO t VALUES (1)').run())
    await new Promise((resolve) => setTimeout(resolve, 20))
    expect(rows()).toBe(0)
    letGo(gate)
    await first
    expect(rows()).toBe(1)

    hold(gate)
    const second = batch.run(() => db!.prepare('INSERT INTO t VALUES (2)').run())
    await new Promise((resolve) => setImmediate(resolve))
    batch.flush()
    await second
    expect(rows()).toBe(2)
    // The commit the gate kept for later finds nothing left to do.
    letGo(gate)
    expect(rows()).toBe(2)
    await batch.run(() => db!.prepare('INSERT INTO t VALUES (3)').run())
    expect(rows()).toBe(3)
  })
})
