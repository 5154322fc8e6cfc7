import type { Statement } from 'better-sqlite3'
import type { ClaimResult, SessionOwner, SessionOwnerStore } from '../storage/session-owner-store.js'
import type { Db } from './database.js'
import { migrate } from './migrate.js'

const STEPS = [
  `CREATE TABLE session_owners (
    client_id TEXT PRIMARY KEY,
    username TEXT,
    persistent INTEGER NOT NULL,
    connection TEXT NOT NULL
  );`,
]

interface Row { username: string | null; persistent: number; connection: string }

const toOwner = (row: Row): SessionOwner => ({ username: row.username, persistent: row.persistent === 1, connection: row.connection })

/**
 * Which user each client id belongs to: a persistent session's binding in
 * SQLite, one row per client id, since it outlives the process; a clean
 * session's in memory. A clean binding lasts no longer than its connection,
 * and one process serves the clients of the file (`dropAllClean` at its
 * start dropped them from the file before), so writing them down bought
 * nothing and cost two commits per connection: one when it connected, one
 * when it left, each a page or more of WAL. A storm of 3,000 connections
 * wrote 29 MB of WAL, enough to start the checkpointer's thread.
 *
 * A client id has at most one binding, in one place or the other: a claim
 * moves it. Rows that say `persistent = 0`, left by a version that wrote
 * clean bindings down, are dropped by `dropAllClean`.
 */
export class SqliteSessionOwnerStore implements SessionOwnerStore {
  readonly #clean = new Map<string, SessionOwner>()
  readonly #s: Record<'get' | 'put' | 'drop' | 'dropAllClean' | 'forget', Statement>

  constructor(db: Db) {
    migrate(db, 'session_owners', STEPS)
    this.#s = {
      get: db.prepare('SELECT username, persistent, connection FROM session_owners WHERE client_id = ?'),
      put: db.prepare(`INSERT INTO session_owners (client_id, username, persistent, connection) VALUES (?, ?, 1, ?)
        ON CONFLICT (client_id) DO UPDATE SET username = excluded.username, persistent = 1, connection = excluded.connection`),
      drop: db.prepare('DELETE FROM session_owners WHERE client_id = ?'),
      dropAllClean: db.prepare('DELETE FROM session_owners WHERE persistent = 0'),
      forget: db.prepare('DELETE FROM session_owners WHERE client_id = @clientId AND (@connection IS NULL OR connection = @connection) RETURNING username, persistent, connection'),
    }
  }

  // Each method reads and writes without yielding: one atomic step for every caller in this process.
  async claim(clientId: string, owner: SessionOwner, force: boolean): Promise<ClaimResult> {
    const clean = this.#clean.get(clientId)
    const row = clean ? undefined : (this.#s.get.get(clientId) as Row | undefined)
    const held = clean ?? (row && toOwner(row))
    if (held && held.username !== owner.username && !force) return { ok: false, owner: held.username }
    if (owner.persistent) {
      this.#clean.delete(clientId)
      this.#s.put.run(clientId, owner.username, owner.connection)
    } else {
      if (row) this.#s.drop.run(clientId)
      this.#clean.set(clientId, { ...owner })
    }
    return { ok: true }
  }

  async release(clientId: string, connection: string): Promise<void> {
    if (this.#clean.get(clientId)?.connection === connection) this.#clean.delete(clientId)
  }

  async dropClean(clientIds: readonly string[]): Promise<void> {
    for (const id of clientIds) this.#clean.delete(id)
  }

  async dropAllClean(): Promise<void> {
    this.#clean.clear()
    this.#s.dropAllClean.run()
  }

  async forget(clientId: string, connection?: string): Promise<SessionOwner | undefined> {
    const clean = this.#clean.get(clientId)
    if (clean) {
      if (connection !== undefined && clean.connection !== connection) return undefined
      this.#clean.delete(clientId)
      return { ...clean }
    }
    const row = this.#s.forget.get({ clientId, connection: connection ?? null }) as Row | undefined
    return row && toOwner(row)
  }

  async ownerOf(clientId: string): Promise<SessionOwner | undefined> {
    const clean = this.#clean.get(clientId)
    if (clean) return { ...clean }
    const row = this.#s.get.get(clientId) as Row | undefined
    return row && toOwner(row)
  }
}
