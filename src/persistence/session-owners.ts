import type { Database, Statement } from 'better-sqlite3'
import type { WriteBatch } from '../store/write-batch.js'

/**
 * Which persistent session belongs to whom, for `limits.sessions.maxPerUser`.
 * SQLite is the record; memory holds it all too (a client id and an owner a
 * session), loaded at setup, so that the CONNECT of a session already
 * recorded, and every clean one, costs no write: a database that cannot be
 * written must not keep them from connecting. The check and the record of a
 * new session happen in one write, inside the batch's transaction, where
 * every earlier claim has been counted.
 */
export class SessionOwners {
  readonly #batch: WriteBatch
  readonly #upsert: Statement<[string, string]>
  readonly #delete: Statement<[string]>
  readonly #all: Statement<[], { client_id: string; owner: string }>
  readonly #owners = new Map<string, string>()
  readonly #counts = new Map<string, number>()

  constructor(db: Database, batch: WriteBatch) {
    this.#batch = batch
    this.#upsert = db.prepare(`INSERT INTO mqtt_sessions (client_id, owner) VALUES (?, ?)
      ON CONFLICT (client_id) DO UPDATE SET owner = excluded.owner`)
    this.#delete = db.prepare('DELETE FROM mqtt_sessions WHERE client_id = ?')
    this.#all = db.prepare('SELECT client_id, owner FROM mqtt_sessions')
  }

  /** Reads every record into memory (at setup, and after a failed commit). */
  load(): void {
    this.#owners.clear()
    this.#counts.clear()
    for (const { client_id, owner } of this.#all.iterate()) this.#set(client_id, owner)
  }

  get count(): number {
    return this.#owners.size
  }

  claim(clientId: string, owner: string, max: number): Promise<boolean> {
    if (this.#owners.get(clientId) === owner) return Promise.resolve(true)
    return this.#batch.run(() => {
      // Checked again here: a claim of the same turn may have come first.
      if (this.#owners.get(clientId) === owner) return true
      if (max > 0 && (this.#counts.get(owner) ?? 0) >= max) return false
      this.#upsert.run(clientId, owner)
      this.#set(clientId, owner)
      return true
    })
  }

  release(clientId: string): Promise<void> {
    if (!this.#owners.has(clientId)) return Promise.resolve()
    return this.#batch.run(() => {
      this.#delete.run(clientId)
      this.#unset(clientId)
    })
  }

  /** Deletes a session's record at once: inside a write of the batch (an expiring session's). Returns its owner, if it had a record. */
  deleteClient(clientId: string): string | undefined {
    const owner = this.#owners.get(clientId)
    if (owner === undefined) return undefined
    this.#delete.run(clientId)
    this.#unset(clientId)
    return owner
  }

  #set(clientId: string, owner: string): void {
    this.#unset(clientId)
    this.#owners.set(clientId, owner)
    this.#counts.set(owner, (this.#counts.get(owner) ?? 0) + 1)
  }

  #unset(clientId: string): void {
    const owner = this.#owners.get(clientId)
    if (owner === undefined) return
    this.#owners.delete(clientId)
    const n = (this.#counts.get(owner) ?? 1) - 1
    if (n > 0) this.#counts.set(owner, n)
    else this.#counts.delete(owner)
  }
}
