import type { Statement } from 'better-sqlite3'
import type { Db } from '../store/database.js'
import { migrate } from '../store/migrate.js'
import { WriteBatch } from '../store/write-batch.js'

/** What a delivery carries besides the event: who and what caused it. */
export interface DeliveryContext {
  clientId: string | null
  topic: string
  rule: string | null
  requestId: string
  /** When the original message arrived, ms since the epoch. */
  timestamp: number
  hops: number
  fromLoop: boolean
}

export interface NewDelivery {
  /** `function:chat`, `route:chat-handler`, `url:http://...`, `topic:a/b`. */
  target: string
  /** The full target definition, for url and topic targets. */
  spec?: unknown
  event: unknown
  context: DeliveryContext
  /** The route this delivery came through, whose retry policy applies. */
  via?: string | null
}

export interface Delivery extends Required<NewDelivery> {
  id: number
  attempts: number
  nextAt: number
  createdAt: number
  held: boolean
  lastError: string | null
}

export interface DeadLetter extends Omit<Delivery, 'held' | 'nextAt'> {
  deliveryId: number
  failedAt: number
  error: string
}

const STEPS = [
  `CREATE TABLE deliveries (
    id INTEGER PRIMARY KEY,
    target TEXT NOT NULL,
    spec TEXT,
    event TEXT NOT NULL,
    context TEXT NOT NULL,
    via TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_at INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    held INTEGER NOT NULL DEFAULT 0,
    last_error TEXT
  );
  CREATE INDEX deliveries_due ON deliveries (held, next_at, id);
  CREATE INDEX deliveries_by_target ON deliveries (target, held, id);
  CREATE TABLE dead_letters (
    id INTEGER PRIMARY KEY,
    delivery_id INTEGER NOT NULL,
    target TEXT NOT NULL,
    spec TEXT,
    event TEXT NOT NULL,
    context TEXT NOT NULL,
    via TEXT,
    attempts INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    failed_at INTEGER NOT NULL,
    error TEXT NOT NULL
  );
  CREATE INDEX dead_letters_by_target ON dead_letters (target, failed_at);`,
]

type Row = { id: number; target: string; spec: string | null; event: string; context: string; via: string | null; attempts: number; next_at: number; created_at: number; held: number; last_error: string | null }
type DeadRow = Omit<Row, 'next_at' | 'held' | 'last_error'> & { delivery_id: number; failed_at: number; error: string }

/**
 * The durable outbox of deliveries to functions, HTTP targets and routes.
 * A delivery is a row from the moment it is recorded until it succeeds or is
 * dead-lettered, so a crash at any point loses nothing (at least once).
 * Records made in one turn of the event loop share one transaction (group
 * commit), which keeps recording before each PUBACK cheap.
 */
export class Outbox {
  readonly #s: Record<'insert' | 'dueIds' | 'dueIdsExcept' | 'firstOf' | 'delete' | 'retry' | 'hold' | 'release' | 'retarget' | 'nextDue' | 'insertDead' | 'get' | 'countHeld' | 'deleteDead', Statement>
  readonly #writes: WriteBatch
  /** Deliveries made whose delete is not committed yet. */
  readonly #completing = new Set<number>()

  constructor(private readonly db: Db) {
    migrate(db, 'delivery', STEPS)
    this.#writes = new WriteBatch(db, () => {})
    this.#s = {
      insert: db.prepare('INSERT INTO deliveries (target, spec, event, context, via, attempts, next_at, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)'),
      // In the order of the deliveries_due index, so that a long backlog is not sorted at every look.
      dueIds: db.prepare('SELECT id FROM deliveries WHERE held = 0 AND next_at <= ? ORDER BY held, next_at, id LIMIT ?'),
      dueIdsExcept: db.prepare('SELECT id FROM deliveries WHERE held = 0 AND next_at <= ? AND target NOT IN (SELECT value FROM json_each(?)) ORDER BY held, next_at, id LIMIT ?'),
      firstOf: db.prepare('SELECT * FROM deliveries WHERE held = 0 AND target = ? ORDER BY id LIMIT ?'),
      delete: db.prepare('DELETE FROM deliveries WHERE id = ?'),
      retry: db.prepare('UPDATE deliveries SET attempts = ?, next_at = ?, last_error = ? WHERE id = ?'),
      hold: db.prepare('UPDATE deliveries SET held = 1 WHERE id = ?'),
      release: db.prepare("UPDATE deliveries SET held = 0, next_at = ? WHERE held = 1 AND target = ?"),
      retarget: db.prepare('UPDATE deliveries SET target = ?, spec = ?, via = ? WHERE id = ?'),
      nextDue: db.prepare('SELECT min(next_at) AS at FROM deliveries WHERE held = 0'),
      insertDead: db.prepare('INSERT INTO dead_letters (delivery_id, target, spec, event, context, via, attempts, created_at, failed_at, error) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)'),
      get: db.prepare('SELECT * FROM deliveries WHERE id = ?'),
      countHeld: db.prepare('SELECT count(*) AS n FROM deliveries WHERE held = 1 AND target = ?'),
      deleteDead: db.prepare('DELETE FROM dead_letters WHERE id = ?'),
    }
  }

  /** Records deliveries; resolves with their ids once committed (with the other records of this turn). */
  record(items: NewDelivery[]): Promise<number[]> {
    if (items.length === 0) return Promise.resolve([])
    return this.#writes.run(() => {
      const now = Date.now()
      return items.map((d) => this.#insert(d, now, 0))
    })
  }

  /** Commits every record waiting now. */
  flush(): void {
    this.#writes.flush()
  }

  #insert(d: NewDelivery, nextAt: number, attempts: number, createdAt = nextAt): number {
    return Number(this.#s.insert.run(d.target, d.spec === undefined ? null : JSON.stringify(d.spec), JSON.stringify(d.event ?? null), JSON.stringify(d.context), d.via ?? null, attempts, nextAt, createdAt).lastInsertRowid)
  }

  /**
   * The ids of deliveries due now, oldest first, leaving out those to
   * `targets`: the dispatcher asks after every delivery, and reads in full
   * only the ones it then runs.
   */
  dueIds(now: number, limit: number, except: readonly string[] = []): number[] {
    const rows = except.length === 0 ? this.#s.dueIds.all(now, limit + this.#completing.size) : this.#s.dueIdsExcept.all(now, JSON.stringify(except), limit + this.#completing.size)
    const ids = (rows as Array<{ id: number }>).map((r) => r.id)
    return this.#completing.size === 0 ? ids : ids.filter((id) => !this.#completing.has(id))
  }

  /** The oldest delivery to `target` that is not held, due or not. */
  firstOf(target: string): Delivery | undefined {
    const rows = this.#s.firstOf.all(target, 1 + this.#completing.size) as Row[]
    const row = rows.find((r) => !this.#completing.has(r.id))
    return row && toDelivery(row)
  }

  get(id: number): Delivery | undefined {
    const row = this.#s.get.get(id) as Row | undefined
    return row && toDelivery(row)
  }

  /** When the next delivery falls due, or undefined when none waits. */
  nextDueAt(): number | undefined {
    return (this.#s.nextDue.get() as { at: number | null }).at ?? undefined
  }

  /**
   * Removes a delivery that was made. The delete joins the group commit of
   * this turn; until it is committed the delivery is left out of `dueIds`,
   * so it is not made twice. A crash before the commit makes it again: at
   * least once.
   */
  complete(id: number): void {
    this.#completing.add(id)
    this.#writes.run(() => this.#s.delete.run(id)).finally(() => this.#completing.delete(id)).catch(() => {})
  }

  retryLater(id: number, attempts: number, nextAt: number, error: string): void {
    this.#s.retry.run(attempts, nextAt, error, id)
  }

  hold(id: number): void {
    this.#s.hold.run(id)
  }

  /** Makes every held delivery to `target` due now; they keep their order (by id). */
  release(target: string): number {
    return this.#s.release.run(Date.now(), target).changes
  }

  heldCount(target: string): number {
    return (this.#s.countHeld.get(target) as { n: number }).n
  }

  /** Points a delivery at a concrete target chosen from a route. */
  retarget(id: number, target: string, spec: unknown, via: string | null): void {
    this.#s.retarget.run(target, spec === undefined ? null : JSON.stringify(spec), via, id)
  }

  /** Replaces a delivery to a fanout route by one delivery per target, in one transaction. */
  split(delivery: Delivery, targets: Array<{ target: string; spec: unknown }>, via: string): number[] {
    return this.db.transaction(() => {
      const ids = targets.map((t) => this.#insert({ ...delivery, target: t.target, spec: t.spec, via }, Date.now(), 0, delivery.createdAt))
      this.#s.delete.run(delivery.id)
      return ids
    })()
  }

  /** Moves a delivery that will not succeed to the dead letters. */
  deadLetter(delivery: Delivery, error: string): number {
    return this.db.transaction(() => {
      const id = Number(this.#s.insertDead.run(delivery.id, delivery.target, delivery.spec === null ? null : JSON.stringify(delivery.spec), JSON.stringify(delivery.event), JSON.stringify(delivery.context), delivery.via, delivery.attempts, delivery.createdAt, Date.now(), error).lastInsertRowid)
      this.#s.delete.run(delivery.id)
      return id
    })()
  }

  deadLetters(filter: { target?: string | undefined; ids?: number[] | undefined; limit?: number | undefined } = {}): DeadLetter[] {
    const where: string[] = []
    const args: unknown[] = []
    if (filter.target !== undefined) {
      where.push('target = ?')
      args.push(filter.target)
    }
    if (filter.ids !== undefined) {
      where.push(`id IN (${filter.ids.map(() => '?').join(',') || 'NULL'})`)
      args.push(...filter.ids)
    }
    args.push(Math.min(filter.limit ?? 100, 10_000))
    const rows = this.db.prepare(`SELECT * FROM dead_letters ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY id LIMIT ?`).all(...args) as DeadRow[]
    return rows.map(toDeadLetter)
  }

  /** Puts dead letters back in the outbox, due now, with fresh attempts; returns the new delivery ids. */
  replay(letters: DeadLetter[]): number[] {
    return this.db.transaction(() => {
      const now = Date.now()
      return letters.map((l) => {
        const id = this.#insert({ target: l.target, spec: l.spec, event: l.event, context: l.context, via: l.via }, now, 0, l.createdAt)
        this.#s.deleteDead.run(l.id)
        return id
      })
    })()
  }
}

/** The columns deliveries and dead letters share, parsed. */
function common(r: Row | DeadRow) {
  return {
    id: r.id,
    target: r.target,
    spec: r.spec === null ? null : (JSON.parse(r.spec) as unknown),
    event: JSON.parse(r.event) as unknown,
    context: JSON.parse(r.context) as DeliveryContext,
    via: r.via,
    attempts: r.attempts,
    createdAt: r.created_at,
  }
}

function toDelivery(r: Row): Delivery {
  return {
    ...common(r),
    nextAt: r.next_at,
    held: r.held === 1,
    lastError: r.last_error,
  }
}

function toDeadLetter(r: DeadRow): DeadLetter {
  return {
    ...common(r),
    deliveryId: r.delivery_id,
    failedAt: r.failed_at,
    error: r.error,
    lastError: r.error,
  }
}
