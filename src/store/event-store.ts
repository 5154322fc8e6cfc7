import type { Statement } from 'better-sqlite3'
import { eventDataJson, type EventLog, type EventQuery, type NewEvent, type StoredEvent } from '../storage/event-log.js'
import { commitGate, type CommitGate } from './commit-gate.js'
import type { Db } from './database.js'
import { migrate } from './migrate.js'
import { storeHealth, type StoreHealth } from './store-health.js'
import { TurnWrites } from './turn-commits.js'

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
  // Only a keyed event is read by its key: an event stored without one
  // costs no entry there (a query naming a key still uses the index, as
  // key = ? implies key IS NOT NULL). Keyless, a row is about 15 % cheaper
  // to insert (bench/LIMITS.md, no key index entry for an event stored
  // without a key).
  `DROP INDEX store_events_by_key;
  CREATE INDEX store_events_by_key ON store_events (tbl, key, ts) WHERE key IS NOT NULL;`,
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

/** table, key, ts, topic, client_id, data, expires_at, then the append's maxRows (not a column) */
const COLUMNS = 8
/** The columns an insert writes: all of a row's but maxRows. */
const INSERTED = 7

/**
 * Rows one insert statement writes while a batch has that many left. In a
 * table with this one's indexes, 16 rows a statement cost about a third
 * less CPU a row than one (bench/LIMITS.md, sixteen rows to an insert).
 */
const ROWS_PER_INSERT = 16
/**
 * OR FAIL: a statement that breaks a constraint stops there, keeping the
 * rows it wrote, and the transaction's rollback then undoes them with the
 * rest of the batch. With the default (OR ABORT), SQLite would undo that
 * statement alone, and for that keeps a statement journal through each
 * statement of many rows: a copy of every page the statement changes, in a
 * temporary file past 64 KB. In a test of the inserts alone, writing that
 * journal cost more than the inserts themselves (bench/LIMITS.md, no
 * statement journal).
 */
const INSERT = 'INSERT OR FAIL INTO store_events (tbl, key, ts, topic, client_id, data, expires_at) VALUES '
const ROW_VALUES = '(?, ?, ?, ?, ?, ?, ?)'

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
 *
 * The rows of each table are counted in memory (from the file at start,
 * then as rows are written and deleted): a table past its limit loses its
 * oldest rows in the transaction that took it past.
 */
export class EventStore implements EventLog {
  readonly #db: Db
  readonly #insert: Statement
  /** Inserts a batch's rows, and trims the tables they took past their limit, in one transaction; returns the rows trimmed per table. */
  readonly #insertRows: (rows: unknown[]) => Map<string, number> | undefined
  /** Deletes the expired events and counts them off their tables, in one transaction; returns how many. */
  readonly #sweep: (now: number) => number
  readonly #trim: Statement<[string, number]>
  readonly #rows = new Map<string, number>()
  #maxRows = 0
  #trimmed: (table: string, rows: number) => void = () => {}
  /** One prepared statement per combination of filters (at most eight). */
  readonly #queries = new Map<string, Statement>()
  readonly #health: StoreHealth
  readonly #gate: CommitGate
  /** Waiting for their commit, oldest first; only the last takes new appends. */
  #batches: Batch[] = []
  /** A commit is scheduled: as an immediate, or for when the checkpointer lets go. */
  #scheduled = false
  /** The commit is scheduled as an immediate; its rows are counted in #turnWrites. */
  #immediate = false
  readonly #turnWrites = new TurnWrites()

  constructor(db: Db) {
    migrate(db, 'store_events', STEPS)
    this.#db = db
    this.#health = storeHealth(db)
    this.#gate = commitGate(db)
    this.#insert = db.prepare(INSERT + ROW_VALUES)
    const insertMany = db.prepare(INSERT + Array<string>(ROWS_PER_INSERT).fill(ROW_VALUES).join(', '))
    const manyArgs: unknown[] = new Array(ROWS_PER_INSERT * INSERTED)
    // The oldest by time, as queries read them (ids break ties, as there).
    this.#trim = db.prepare('DELETE FROM store_events WHERE id IN (SELECT id FROM store_events WHERE tbl = ? ORDER BY ts, id LIMIT ?)')
    this.#insertRows = db.transaction((rows: unknown[]) => {
      // The smallest limit any of the batch's appends names for each table it wrote to.
      const limits = new Map<string, number>()
      // In order: the statement of many writes its rows as listed, ids rising.
      let at = 0
      for (; at + ROWS_PER_INSERT * COLUMNS <= rows.length; at += ROWS_PER_INSERT * COLUMNS) {
        for (let row = 0; row < ROWS_PER_INSERT; row++) {
          for (let column = 0; column < INSERTED; column++) manyArgs[row * INSERTED + column] = rows[at + row * COLUMNS + column]
        }
        insertMany.run(manyArgs)
      }
      manyArgs.fill(undefined)
      for (; at < rows.length; at += COLUMNS) this.#insert.run(rows[at], rows[at + 1], rows[at + 2], rows[at + 3], rows[at + 4], rows[at + 5], rows[at + 6])
      for (let i = 0; i < rows.length; i += COLUMNS) {
        const table = rows[i] as string
        this.#rows.set(table, (this.#rows.get(table) ?? 0) + 1)
        const max = rows[i + 7] as number
        const before = limits.get(table)
        if (before === undefined || (max > 0 && (before === 0 || max < before))) limits.set(table, max)
      }
      let trimmed: Map<string, number> | undefined
      for (const [table, max] of limits) {
        const over = (this.#rows.get(table) ?? 0) - max
        if (max === 0 || over <= 0) continue
        const deleted = this.#trim.run(table, over).changes
        this.#rows.set(table, this.#rows.get(table)! - deleted)
        ;(trimmed ??= new Map()).set(table, deleted)
      }
      return trimmed
    })
    const expired = db.prepare<[number], { tbl: string; n: number }>('SELECT tbl, count(*) AS n FROM store_events WHERE expires_at IS NOT NULL AND expires_at <= ? GROUP BY tbl')
    const sweep = db.prepare<[number]>('DELETE FROM store_events WHERE expires_at IS NOT NULL AND expires_at <= ?')
    this.#sweep = db.transaction((now: number) => {
      for (const { tbl, n } of expired.all(now)) {
        const left = (this.#rows.get(tbl) ?? n) - n
        if (left > 0) this.#rows.set(tbl, left)
        else this.#rows.delete(tbl)
      }
      return sweep.run(now).changes
    })
    this.#countRows()
  }

  /** Reads each table's row count from the file (at start, and after a failed commit). */
  #countRows(): void {
    this.#rows.clear()
    const counts = this.#db.prepare<[], { tbl: string; n: number }>('SELECT tbl, count(*) AS n FROM store_events GROUP BY tbl').all()
    for (const { tbl, n } of counts) this.#rows.set(tbl, n)
  }

  setRowLimit(maxRows: number, trimmed?: (table: string, rows: number) => void): void {
    this.#maxRows = maxRows
    if (trimmed) this.#trimmed = trimmed
  }

  async rowCounts(): Promise<Map<string, number>> {
    return new Map(this.#rows)
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
    batch.rows.push(event.table, event.key, event.timestamp, event.topic, event.clientId, data, event.expiresAt, event.maxRows ?? this.#maxRows)
    if (!this.#scheduled) this.#schedule()
    else if (this.#immediate) this.#turnWrites.add(1)
    return batch.done
  }

  /** Commits everything waiting now; called at close. */
  async flush(): Promise<void> {
    while (this.#batches.length > 0) this.#commit(this.#batches.shift()!)
  }

  /** Commits the oldest batch, and lets other work run before the next; while the checkpointer holds the commits back (CommitGate), once it lets go. */
  #flushOne(): void {
    this.#immediate = false
    this.#turnWrites.clear()
    this.#gate.pass(() => this.#commitOldest())
  }

  /** Schedules the commit of the oldest batch, counting every row waiting. */
  #schedule(): void {
    this.#scheduled = true
    this.#immediate = true
    setImmediate(() => this.#flushOne())
    let rows = 0
    for (const batch of this.#batches) rows += batch.rows.length / COLUMNS
    this.#turnWrites.add(rows)
  }

  #commitOldest(): void {
    this.#scheduled = false
    const batch = this.#batches.shift()
    if (batch) this.#commit(batch)
    if (this.#batches.length > 0) this.#schedule()
  }

  #commit(batch: Batch): void {
    const { rows } = batch
    let trimmed: Map<string, number> | undefined
    try {
      trimmed = this.#insertRows(rows)
      this.#health.committed()
      batch.resolve()
    } catch (err) {
      // The counts moved with the writes the rollback undid.
      this.#countRows()
      this.#health.failed('events', err, rows.length / COLUMNS)
      batch.reject(err)
    }
    if (trimmed) for (const [table, n] of trimmed) this.#trimmed(table, n)
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
    try {
      return this.#sweep(now)
    } catch (err) {
      this.#countRows()
      throw err
    }
  }
}
