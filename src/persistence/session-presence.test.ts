import { afterEach, beforeEach, expect, it } from 'vitest'
import { closeDatabase, openDatabase, type Db } from '../store/database.js'
import { createSqlitePersistence, type SqlitePersistence } from './index.js'

// Sessions in a SQLite file that a process left: one process serves the
// file's clients, so at its start none is connected. A session whose
// client left keeps the time it left; one whose client was connected when
// the process stopped (or that a version without marks kept) waits from
// the start.

let db: Db
let persistence: SqlitePersistence
beforeEach(async () => {
  db = openDatabase(':memory:')
  persistence = createSqlitePersistence({ db })
  await persistence.setup({ id: 'first-run' })
})
afterEach(async () => {
  await persistence.destroy()
  closeDatabase(db)
})

it('counts a session whose client was connected when the process stopped from the next start, and keeps the time of one that had left', async () => {
  await persistence.claimSession('left', 'user:a', 0, 'c1')
  await persistence.markDisconnected('left', 'c1')
  const leftBy = Date.now()
  await persistence.claimSession('stayed', 'user:a', 0, 'c2')
  await persistence.addSubscriptions({ id: 'unrecorded' }, [{ topic: 't', qos: 1 }])
  await persistence.destroy()
  db.exec('DELETE FROM mqtt_session_marks WHERE client_id = \'unrecorded\'')
  await new Promise((resolve) => setTimeout(resolve, 20))

  const start = Date.now()
  persistence = createSqlitePersistence({ db })
  await persistence.setup({ id: 'second-run' })
  const expired = await persistence.expireSessions(0, 10)
  const byId = Object.fromEntries(expired.map((s) => [s.clientId, s]))
  expect(Object.keys(byId).sort()).toEqual(['left', 'stayed', 'unrecorded'])
  expect(byId.left).toMatchObject({ owner: 'user:a', connection: 'c1' })
  expect(byId.left!.disconnectedAt).toBeLessThanOrEqual(leftBy)
  expect(byId.stayed).toMatchObject({ owner: 'user:a', connection: undefined })
  expect(byId.stayed!.disconnectedAt).toBeGreaterThanOrEqual(start)
  expect(byId.unrecorded).toMatchObject({ owner: undefined })
  expect(byId.unrecorded!.disconnectedAt).toBeGreaterThanOrEqual(start)
})

it('keeps every session whole when the write that expires them fails', async () => {
  await persistence.claimSession('dev-1', 'user:a', 0, 'c1')
  await persistence.addSubscriptions({ id: 'dev-1' }, [{ topic: 't', qos: 1 }])
  await persistence.outgoingEnqueue({ clientId: 'dev-1' }, { cmd: 'publish', topic: 't', payload: Buffer.from('kept'), qos: 1 })
  await persistence.markDisconnected('dev-1', 'c1')
  db.exec("CREATE TRIGGER refuse BEFORE DELETE ON mqtt_sessions BEGIN SELECT RAISE(ABORT, 'refused'); END")
  await expect(persistence.expireSessions(0, 10)).rejects.toThrow('refused')
  expect((await persistence.subscriptionsByTopic('t')).map((s) => s.clientId)).toEqual(['dev-1'])
  expect(await persistence.usage()).toMatchObject({ sessions: 1, queuedMessages: 1 })
  db.exec('DROP TRIGGER refuse')
  expect((await persistence.expireSessions(0, 10)).map((s) => s.clientId)).toEqual(['dev-1'])
  expect(await persistence.usage()).toMatchObject({ sessions: 0, queuedMessages: 0 })
})
