import type { Statement } from 'better-sqlite3'
import { eventDataJson, type EventLog, type EventQuery, type NewEvent, type StoredEvent } from '../storage/event-log.js'
import type { Db } from './database.js'
import { migrate } from './migrate.js'
import { storeHealth, type StoreHealth } from './store-health.js'

export type { EventQuery, NewEvent, StoredEvent } from '../storage/event-log.js'

const MAX_LIMIT = 1000
// Big enough to amortise a commit, small enough that one flush never stalls
// the event loop for long.
const MAX_BATCH = 2000

const STEPS = [
  `CREATE TABLE store_events (
    id INTEGER PRIMARY KEY,
    tbl TEXT NOT NULL,
    key TEXT,
    ts INTEGER NOT NULL,
    topic TEXT NOT NULL,
    client_id TEXT,
    data TEXT NOT NULL,
    expires_at INTEGER
  );
  CREATE INDEX store_events_by_key ON store_events (tbl, key, ts);
  CREATE INDEX store_events_by_time ON store_events (tbl, ts);
  CREATE INDEX store_events_by_expiry ON store_events (expires_at) WHERE expires_at IS NOT NULL;`,
]

/**
 * The appends of one transaction, as the insert's arguments, COLUMNS to a
 * row, one after another: the data is written as JSON when appended, and
 * nothing of an event but its row waits for the commit (an event's data
 * object would otherwise live on, and be copied by the garbage collector,
 * until then). They share one promise, settled by the commit.
 */
interface Batch {
  rows: unknown[]
  done: Promise<void>
  resolve(): void
  reject(err: unknown): void
}

/** table, key, ts, topic, client_id, data, expires_at */
const COLUMNS = 7

function newBatch(): Batch {
  let resolve!: () => void
  let reject!: (err: unknown) => void
  const done = new Promise<void>((res, rej) => {
    resolve = res
    reject = rej
  })
  return { rows: [], done, resolve, reject }
}

/**
 * The events that rules store, in one SQLite table keyed by the rule's table
 * name. Appends are grouped: every append made in one turn of the event loop
 * is committed in one transaction, and each append resolves once committed.
 * An event whose data cannot be written as JSON is refused when appended,
 * so that it cannot fail the others of its turn.
 */
export class EventStore implements EventLog {
  readonly #db: Db
  readonly #insert: Statement
  /** Inserts a batch's rows in one transaction. */
  readonly #insertRows: (rows: unknown[]) => void
  readonly #sweep: Statement
  /** One prepared statement per combination of filters (at most eight). */
  readonly #queries = new Map<string, Statement>()
  readonly #health: StoreHealth
  /** Waiting for their commit, oldest first; only the last takes new appends. */
  #batches: Batch[] = []
  #scheduled = false

  constructor(db: Db) {
    migrate(db, 'store_events', STEPS)
    this.#db = db
    this.#health = storeHealth(db)
    this.#insert = db.prepare('INSERT INTO store_events (tbl, key, ts, topic, client_id, data, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?)')
    this.#insertRows = db.transaction((rows: unknown[]) => {
      for (let i = 0; i < rows.length; i += COLUMNS) this.#insert.run(rows[i], rows[i + 1], rows[i + 2], rows[i + 3], rows[i + 4], rows[i + 5], rows[i + 6])
    })
    this.#sweep = db.prepare('DELETE FROM store_events WHERE expires_at IS NOT NULL AND expires_at <= ?')
  }

  append(event: NewEvent): Promise<void> {
    let data: string
    try {
      data = eventDataJson(event)
    } catch (err) {
      return Promise.reject(err as Error)
    }
    let batch = this.#batches.at(-1)
    if (!batch || batch.rows.length >= MAX_BATCH * COLUMNS) {
      batch = newBatch()
      this.#batches.push(batch)
    }
    batch.rows.push(event.table, event.key, event.timestamp, event.topic, event.clientId, data, event.expiresAt)
    if (!this.#scheduled) {
      this.#scheduled = true
      setImmediate(() => this.#flushOne())
    }
    return batch.done
  }

  /** Commits everything waiting now; called at close. */
  async flush(): Promise<void> {
    while (this.#batches.length > 0) this.#commit(this.#batches.shift()!)
  }

  /** Commits the oldest batch, and lets other work run before the next. */
  #flushOne(): void {
    this.#scheduled = false
    const batch = this.#batches.shift()
    if (batch) this.#commit(batch)
    if (this.#batches.length > 0) {
      this.#scheduled = true
      setImmediate(() => this.#flushOne())
    }
  }

  #commit(batch: Batch): void {
    const { rows } = batch
    try {
      this.#insertRows(rows)
      this.#health.committed()
      batch.resolve()
    } catch (err) {
      this.#health.failed('events', err, rows.length / COLUMNS)
      batch.reject(err)
    }
  }

  /** Newest first. Expired events are never returned, swept or not. */
  async query(table: string, q: EventQuery = {}): Promise<StoredEvent[]> {
    return this.#query(table, q)
  }

  #query(table: string, q: EventQuery): StoredEvent[] {
    const where = ['tbl = ?', '(expires_at IS NULL OR expires_at > ?)']
    const args: unknown[] = [table, Date.now()]
    if (q.key !== undefined) {
      where.push('key = ?')
      args.push(q.key)
    }
    if (q.since !== undefined) {
      where.push('ts >= ?')
      args.push(q.since)
    }
    if (q.until !== undefined) {
      where.push('ts < ?')
      args.push(q.until)
    }
    args.push(Math.min(Math.max(1, q.limit ?? 100), MAX_LIMIT))
    const shape = where.join(' AND ')
    let statement = this.#queries.get(shape)
    if (!statement) {
      // Built from the fixed fragments above only; every value is bound.
      statement = this.#db.prepare(`SELECT id, tbl, key, ts, topic, client_id, data, expires_at FROM store_events WHERE ${shape} ORDER BY ts DESC, id DESC LIMIT ?`)
      this.#queries.set(shape, statement)
    }
    const rows = statement.all(...args) as Array<{ id: number; tbl: string; key: string | null; ts: number; topic: string; client_id: string | null; data: string; expires_at: number | null }>
    return rows.map((r) => ({
      id: r.id,
      table: r.tbl,
      key: r.key,
      timestamp: r.ts,
      topic: r.topic,
      clientId: r.client_id,
      data: JSON.parse(r.data) as unknown,
      expiresAt: r.expires_at,
    }))
  }

  /** Deletes expired events; returns how many. */
  async sweepExpired(now = Date.now()): Promise<number> {
    return this.#sweep.run(now).changes
  }
}
