import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, expect, it } from 'vitest'
import type { Claimant } from '../storage/outbox-store.js'
import { closeDatabase, openDatabase } from './database.js'
import { SqliteOutboxStore } from './outbox.js'

// The shared promises are in storage/contract/ (outbox.contract.test.ts);
// this one is SQLite's alone: one process owns the file.

let dir: string
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'switchyard-outbox-'))
})
afterEach(() => rmSync(dir, { recursive: true, force: true }))

const earlier: Claimant = { worker: 'node/earlier-run', leaseMs: 60_000 }
const now: Claimant = { worker: 'node/this-run', leaseMs: 60_000 }
const context = { clientId: 'device-1', topic: 'sensors/1', rule: 'readings', requestId: 'req-1', timestamp: 1_700_000_000_000, hops: 1, fromLoop: false }

it('voids the claims of an earlier run when opened again on the same file: what it left is claimed at once', async () => {
  const path = join(dir, 'switchyard.db')
  let db = openDatabase(path)
  let store = new SqliteOutboxStore(db)
  const [due, inOrder] = await store.record([{ target: 'function:chat', event: { n: 1 }, context }, { target: 'route:chat', event: { n: 2 }, context }])
  await store.claimDue(earlier, 10)
  await store.hold(inOrder!)
  await store.release('route:chat')
  expect((await store.claimInOrder(earlier, 10)).map((d) => d.id)).toEqual([inOrder])
  // The process dies with both claimed.
  closeDatabase(db)

  db = openDatabase(path)
  try {
    store = new SqliteOutboxStore(db)
    const t = Date.now()
    expect(await store.claimDue(now, 10, t)).toMatchObject([{ id: due, target: 'function:chat', nextAt: t + now.leaseMs }])
    expect(await store.claimInOrder(now, 10, t)).toMatchObject([{ id: inOrder, target: 'route:chat' }])
  } finally {
    closeDatabase(db)
  }
})
