import type { Database, Statement } from 'better-sqlite3'
import type { WriteBatch } from '../store/write-batch.js'

/** Since when a persistent session has waited for its client, and the connection whose end began the wait. */
export interface Mark {
  at: number
  connection: string | undefined
}

interface Row {
  client_id: string
  disconnected_at: number
  connection: string | null
}

/**
 * Whether the client of each persistent session is connected, for
 * `limits.sessionExpiry`: a session whose client has been away too long
 * is expired (Aedes keeps one forever, and queues for it forever:
 * aedes#599).
 *
 * The connections that hold sessions live in memory only: one process
 * serves the clients of the file, so none is connected when it starts.
 * When a connection ends, its session is marked with the time, in
 * memory and in `mqtt_session_marks`; when a connection claims it, the
 * mark goes. At setup every session without a mark (its client was
 * connected when the process last stopped, or it was kept by a version
 * without marks) is marked with the time of the start.
 *
 * Memory holds the marks in the order they were made, oldest first, so
 * that the sessions due are found without reading the others.
 */
export class SessionPresence {
  readonly #batch: WriteBatch
  readonly #all: Statement<[], Row>
  readonly #upsert: Statement<[string, number, string | null]>
  readonly #delete: Statement<[string]>
  readonly #markUnmarked: Statement<[number]>
  /** client id -> the connection that holds its session now. */
  readonly #online = new Map<string, string>()
  /** client id -> its mark, oldest first (a mark is always deleted before it is set again). */
  readonly #marks = new Map<string, Mark>()

  constructor(db: Database, batch: WriteBatch) {
    this.#batch = batch
    this.#all = db.prepare('SELECT client_id, disconnected_at, connection FROM mqtt_session_marks ORDER BY disconnected_at, rowid')
    this.#upsert = db.prepare(`INSERT INTO mqtt_session_marks (client_id, disconnected_at, connection) VALUES (?, ?, ?)
      ON CONFLICT (client_id) DO UPDATE SET disconnected_at = excluded.disconnected_at, connection = excluded.connection`)
    this.#delete = db.prepare('DELETE FROM mqtt_session_marks WHERE client_id = ?')
    // Whatever holds session state: the record of claimSession, subscriptions, a queue.
    this.#markUnmarked = db.prepare(`INSERT OR IGNORE INTO mqtt_session_marks (client_id, disconnected_at)
      SELECT client_id, ? FROM (SELECT client_id FROM mqtt_sessions UNION SELECT client_id FROM mqtt_subscriptions UNION SELECT client_id FROM mqtt_outgoing)`)
  }

  /** Reads the marks into memory (at setup, and after a failed commit); a session held by a connection now has none. */
  load(): void {
    this.#marks.clear()
    for (const row of this.#all.iterate()) {
      if (!this.#online.has(row.client_id)) this.#marks.set(row.client_id, { at: row.disconnected_at, connection: row.connection ?? undefined })
    }
  }

  /** At setup: every session without a mark waits for its client from `now`. A database that cannot be written leaves them as they are. */
  markUnmarked(now: number): Promise<void> {
    return this.#batch.run(() => {
      this.#markUnmarked.run(now)
      this.load()
    })
  }

  /** `connection` holds the session now: its mark goes. Returns the mark it had, for `refused`. */
  connected(clientId: string, connection: string): Mark | undefined {
    this.#online.set(clientId, connection)
    const mark = this.#marks.get(clientId)
    if (mark) {
      this.#marks.delete(clientId)
      // Not awaited: a reconnect must not fail for a database that cannot be written (memory says it is held either way).
      this.#batch.run(() => this.#delete.run(clientId)).catch(() => {})
    }
    return mark
  }

  /** The claim of `connection` was refused: the session waits as it did before. */
  refused(clientId: string, connection: string, before: Mark | undefined): void {
    if (this.#online.get(clientId) !== connection) return
    this.#online.delete(clientId)
    if (before) this.#mark(clientId, before)
  }

  /** `connection` ended: if it still held the session, the session waits from now. */
  disconnected(clientId: string, connection: string): Promise<void> {
    if (this.#online.get(clientId) !== connection) return Promise.resolve()
    this.#online.delete(clientId)
    return this.#mark(clientId, { at: Date.now(), connection })
  }

  /** The session ended (a clean CONNECT): nothing of it is kept. */
  forget(clientId: string): Promise<void> {
    this.#online.delete(clientId)
    if (!this.#marks.delete(clientId)) return Promise.resolve()
    return this.#batch.run(() => {
      this.#delete.run(clientId)
    })
  }

  /** The sessions that have waited since `cutoff` or before, oldest first, as they stand when each is read. */
  *due(cutoff: number): Generator<[string, Mark]> {
    for (const entry of this.#marks) {
      if (entry[1].at > cutoff) return
      yield entry
    }
  }

  /** Whether any session has waited since `cutoff` or before. */
  anyDue(cutoff: number): boolean {
    return !this.due(cutoff).next().done
  }

  /** Deletes a session's mark at once: inside a write of the batch. */
  deleteClient(clientId: string): void {
    this.#marks.delete(clientId)
    this.#delete.run(clientId)
  }

  #mark(clientId: string, mark: Mark): Promise<void> {
    this.#marks.delete(clientId)
    this.#marks.set(clientId, mark)
    return this.#batch.run(() => {
      this.#upsert.run(clientId, mark.at, mark.connection ?? null)
    })
  }
}
