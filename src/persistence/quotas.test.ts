import { afterEach, beforeEach, expect, it } from 'vitest'
import { closeDatabase, openDatabase, type Db } from '../store/database.js'
import { NO_QUOTAS, type QuotaReport } from '../storage/quotas.js'
import { createSqlitePersistence, type SqlitePersistence } from './index.js'

// The storage quotas in the SQLite session store: what a database written
// before them holds counts from the start, and a failed commit leaves the
// totals as the file has them.

let db: Db
let persistence: SqlitePersistence
beforeEach(async () => {
  db = openDatabase(':memory:')
  persistence = createSqlitePersistence({ db })
  await persistence.setup({ id: 'broker' })
})
afterEach(async () => {
  await persistence.destroy()
  closeDatabase(db)
})

const packet = (topic: string, payload: string, more: object = {}) => ({ cmd: 'publish', topic, payload: Buffer.from(payload), qos: 1, retain: true, ...more })

it('counts what a database of the first schema holds, sizes filled in, once upgraded', async () => {
  await persistence.storeRetained(packet('r/1', 'x'.repeat(1000)))
  await persistence.outgoingEnqueueCombi([{ clientId: 'c' }], packet('q/1', 'y'.repeat(2000), { retain: false }))
  await persistence.destroy()
  // Back to the first schema: the columns and table of the second gone.
  db.exec(`ALTER TABLE mqtt_retained DROP COLUMN client_id; ALTER TABLE mqtt_retained DROP COLUMN bytes;
    ALTER TABLE mqtt_outgoing DROP COLUMN bytes; DROP TABLE mqtt_sessions; UPDATE mqtt_schema SET version = 1`)

  persistence = createSqlitePersistence({ db })
  await persistence.setup({ id: 'broker' })
  const usage = await persistence.usage()
  expect(usage).toMatchObject({ retainedMessages: 1, queuedMessages: 1, sessions: 0 })
  expect(usage.retainedBytes).toBeGreaterThan(1000)
  expect(usage.queuedBytes).toBeGreaterThan(2000)
  const refused: string[] = []
  const report: QuotaReport = { retainedRefused: (limit) => refused.push(limit), queueTrimmed: () => {} }
  persistence.setQuotas({ ...NO_QUOTAS, retained: { ...NO_QUOTAS.retained, maxBytes: 1500 } }, report)
  await persistence.storeRetained(packet('r/2', 'z'.repeat(600)))
  expect(refused).toEqual(['retained_bytes'])
})

it('reads the totals again from the file when a write fails past its count', async () => {
  persistence.setQuotas({ ...NO_QUOTAS, queue: { maxMessages: 1, maxBytes: 0 } })
  await persistence.outgoingEnqueueCombi([{ clientId: 'c' }], packet('q/1', 'a', { retain: false }))
  // The second message is inserted and counted, then its trim fails: the write is undone, and so must the count be.
  db.exec("CREATE TRIGGER refuse BEFORE DELETE ON mqtt_outgoing BEGIN SELECT RAISE(ABORT, 'refused'); END")
  await expect(persistence.outgoingEnqueueCombi([{ clientId: 'c' }], packet('q/2', 'b', { retain: false }))).rejects.toThrow('refused')
  expect(await persistence.usage()).toMatchObject({ queuedMessages: 1 })
  db.exec('DROP TRIGGER refuse')
  expect(await persistence.claimSession('c', 'user:a', 1, 'connection-c')).toBe(true)
  expect(await persistence.claimSession('d', 'user:a', 1, 'connection-d')).toBe(false)
  expect(await persistence.usage()).toMatchObject({ sessions: 1 })
})
