import { afterEach, beforeEach, expect, it } from 'vitest'
import { closeDatabase, openDatabase, type Db } from './database.js'
import { SqliteSessionOwnerStore } from './session-owners.js'

let db: Db
let store: SqliteSessionOwnerStore
const rows = () => db.prepare('SELECT client_id, username, persistent, connection FROM session_owners ORDER BY client_id').all()

beforeEach(() => {
  db = openDatabase(':memory:')
  store = new SqliteSessionOwnerStore(db)
})
afterEach(() => closeDatabase(db))

it('writes a persistent binding to the file and keeps a clean one in memory', async () => {
  await store.claim('tab', { username: 'alice', persistent: false, connection: 'c1' }, false)
  await store.claim('dev', { username: 'alice', persistent: true, connection: 'c2' }, false)
  expect(rows()).toEqual([{ client_id: 'dev', username: 'alice', persistent: 1, connection: 'c2' }])
  // Another store on the same file (the next process) finds only the persistent binding.
  const next = new SqliteSessionOwnerStore(db)
  expect(await next.ownerOf('tab')).toBeUndefined()
  expect(await next.ownerOf('dev')).toEqual({ username: 'alice', persistent: true, connection: 'c2' })
})

it('moves a binding between memory and the file as its session changes kind', async () => {
  await store.claim('dev', { username: 'alice', persistent: true, connection: 'c1' }, false)
  await store.claim('dev', { username: 'alice', persistent: false, connection: 'c2' }, false)
  expect(rows()).toEqual([])
  expect(await store.ownerOf('dev')).toEqual({ username: 'alice', persistent: false, connection: 'c2' })
  await store.claim('dev', { username: 'bob', persistent: true, connection: 'c3' }, true)
  expect(rows()).toEqual([{ client_id: 'dev', username: 'bob', persistent: 1, connection: 'c3' }])
  await store.release('dev', 'c2')
  expect(await store.ownerOf('dev')).toEqual({ username: 'bob', persistent: true, connection: 'c3' })
})

it('drops the clean rows an earlier version wrote down', async () => {
  db.prepare("INSERT INTO session_owners (client_id, username, persistent, connection) VALUES ('old', 'bob', 0, 'c0')").run()
  expect(await store.claim('old', { username: 'alice', persistent: false, connection: 'c1' }, false)).toEqual({ ok: false, owner: 'bob' })
  await store.dropAllClean()
  expect(rows()).toEqual([])
  expect(await store.claim('old', { username: 'alice', persistent: false, connection: 'c1' }, false)).toEqual({ ok: true })
})
