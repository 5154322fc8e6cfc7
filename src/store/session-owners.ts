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

/** Which user each client id belongs to, in SQLite: one row per bound client id. */
export class SqliteSessionOwnerStore implements SessionOwnerStore {
  readonly #claim: (clientId: string, owner: SessionOwner, force: boolean) => ClaimResult
  readonly #s: Record<'get' | 'put' | 'release' | 'dropClean' | 'dropAllClean' | 'forget', Statement>

  constructor(db: Db) {
    migrate(db, 'session_owners', STEPS)
    this.#s = {
      get: db.prepare('SELECT username, persistent, connection FROM session_owners WHERE client_id = ?'),
      put: db.prepare(`INSERT INTO session_owners (client_id, username, persistent, connection) VALUES (?, ?, ?, ?)
        ON CONFLICT (client_id) DO UPDATE SET username = excluded.username, persistent = excluded.persistent, connection = excluded.connection`),
      release: db.prepare('DELETE FROM session_owners WHERE client_id = ? AND connection = ? AND persistent = 0'),
      dropClean: db.prepare('DELETE FROM session_owners WHERE client_id = ? AND persistent = 0'),
      dropAllClean: db.prepare('DELETE FROM session_owners WHERE persistent = 0'),
      forget: db.prepare('DELETE FROM session_owners WHERE client_id = @clientId AND (@connection IS NULL OR connection = @connection) RETURNING username, persistent, connection'),
    }
    // One transaction: the read and the write are one step for every caller of this file.
    this.#claim = db.transaction((clientId: string, owner: SessionOwner, force: boolean): ClaimResult => {
      const held = this.#s.get.get(clientId) as Row | undefined
      if (held && held.username !== owner.username && !force) return { ok: false, owner: held.username }
      this.#s.put.run(clientId, owner.username, owner.persistent ? 1 : 0, owner.connection)
      return { ok: true }
    })
  }

  async claim(clientId: string, owner: SessionOwner, force: boolean): Promise<ClaimResult> {
    return this.#claim(clientId, owner, force)
  }

  async release(clientId: string, connection: string): Promise<void> {
    this.#s.release.run(clientId, connection)
  }

  async dropClean(clientIds: readonly string[]): Promise<void> {
    for (const id of clientIds) this.#s.dropClean.run(id)
  }

  async dropAllClean(): Promise<void> {
    this.#s.dropAllClean.run()
  }

  async forget(clientId: string, connection?: string): Promise<SessionOwner | undefined> {
    const row = this.#s.forget.get({ clientId, connection: connection ?? null }) as Row | undefined
    return row && toOwner(row)
  }

  async ownerOf(clientId: string): Promise<SessionOwner | undefined> {
    const row = this.#s.get.get(clientId) as Row | undefined
    return row && toOwner(row)
  }
}
