import type { Statement } from 'better-sqlite3'
import { IdMap } from '../id-map.js'
import type { Claimant, DeadLetter, DeadLetterFilter, Delivery, DeliveryContext, NewDelivery, OutboxStore } from '../storage/outbox-store.js'
import type { Db } from './database.js'
import { migrate } from './migrate.js'
import { WriteBatch } from './write-batch.js'

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
  // Addresses whose released backlog goes out in order, one at a time.
  `CREATE TABLE deliveries_in_order (target TEXT PRIMARY KEY);`,
]

type Row = { id: number; target: string; spec: string | null; event: string; context: string; via: string | null; attempts: number; next_at: number; created_at: number; held: number; last_error: string | null }
type DeadRow = Omit<Row, 'next_at' | 'held' | 'last_error'> & { delivery_id: number; failed_at: number; error: string }

const COLUMNS = 'id, target, spec, event, context, via, attempts, next_at, created_at, held, last_error'

/**
 * Rows recorded and committed by this store and not yet claimed, kept so
 * that claiming one does not read it back: at thousands of deliveries a
 * second the read was a tenth of the dispatcher's time. A backlog past this
 * many is read from the file as before.
 */
const RECORDED_CACHE = 4096

/** A live claim: who holds a delivery, and until when. */
interface Claim {
  worker: string
  until: number
}

/**
 * The outbox in SQLite. Records, completions and retries made in one turn
 * of the event loop share one transaction (group commit), which keeps
 * recording before each PUBACK cheap.
 *
 * One process uses the file, through one store: claims are kept in this
 * store's memory, with their leases, and none is written. They serve every
 * dispatcher of the process alike; a crash or a restart voids them all, so
 * that what was being made is made again at once rather than after a lease
 * (at least once). A claim ends once the write that ends it (a completion,
 * a retry, a hold) is committed, so that a delivery is never seen as due
 * while that write waits.
 */
export class SqliteOutboxStore implements OutboxStore {
  readonly #db: Db
  readonly #s: Record<'insert' | 'dueIds' | 'dueIdsNotInOrder' | 'get' | 'inOrder' | 'firstInOrder' | 'leaveOrder' | 'delete' | 'retry' | 'hold' | 'release' | 'putInOrder' | 'retarget' | 'nextDue' | 'insertDead' | 'countHeld' | 'deleteDead', Statement>
  readonly #writes: WriteBatch
  readonly #claims = new IdMap<Claim>()
  /**
   * The addresses in order (as the table has them, read once: only this
   * store writes it), each with the delivery last claimed for it, which
   * must end before the next is claimed.
   */
  readonly #inOrder = new Map<string, number | undefined>()
  /** Rows as inserted (the same text), by id: see RECORDED_CACHE. */
  readonly #recorded = new IdMap<Row>()

  constructor(db: Db) {
    migrate(db, 'delivery', STEPS)
    this.#db = db
    this.#writes = new WriteBatch(db, () => {}, 'outbox')
    this.#s = {
      insert: db.prepare('INSERT INTO deliveries (target, spec, event, context, via, attempts, next_at, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)'),
      // Along the deliveries_due index, so that a long backlog is not sorted at every look.
      dueIds: db.prepare('SELECT id FROM deliveries WHERE held = 0 AND next_at <= ? ORDER BY held, next_at, id LIMIT ?').pluck(),
      dueIdsNotInOrder: db.prepare(`SELECT id FROM deliveries WHERE held = 0 AND next_at <= ? AND target NOT IN (SELECT target FROM deliveries_in_order)
        ORDER BY held, next_at, id LIMIT ?`).pluck(),
      get: db.prepare(`SELECT ${COLUMNS} FROM deliveries WHERE id = ?`),
      inOrder: db.prepare('SELECT target FROM deliveries_in_order').pluck(),
      firstInOrder: db.prepare(`SELECT ${COLUMNS} FROM deliveries WHERE held = 0 AND target = ? ORDER BY id LIMIT 1`),
      leaveOrder: db.prepare('DELETE FROM deliveries_in_order WHERE target = ?'),
      delete: db.prepare('DELETE FROM deliveries WHERE id = ?'),
      retry: db.prepare('UPDATE deliveries SET attempts = ?, next_at = ?, last_error = ? WHERE id = ?'),
      hold: db.prepare('UPDATE deliveries SET held = 1 WHERE id = ?'),
      release: db.prepare('UPDATE deliveries SET held = 0, next_at = ? WHERE held = 1 AND target = ?'),
      putInOrder: db.prepare('INSERT OR IGNORE INTO deliveries_in_order (target) VALUES (?)'),
      retarget: db.prepare('UPDATE deliveries SET target = ?, spec = ?, via = ? WHERE id = ?'),
      nextDue: db.prepare('SELECT id, next_at FROM deliveries WHERE held = 0 ORDER BY held, next_at, id LIMIT ?'),
      insertDead: db.prepare('INSERT INTO dead_letters (delivery_id, target, spec, event, context, via, attempts, created_at, failed_at, error) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)'),
      countHeld: db.prepare('SELECT count(*) AS n FROM deliveries WHERE held = 1 AND target = ?'),
      deleteDead: db.prepare('DELETE FROM dead_letters WHERE id = ?'),
    }
    for (const target of this.#s.inOrder.all() as string[]) this.#inOrder.set(target, undefined)
  }

  #claimed(id: number, now: number): boolean {
    const claim = this.#claims.get(id)
    return claim !== undefined && claim.until > now
  }

  #claim(claimant: Claimant, row: Row, now: number): Delivery {
    this.#recorded.delete(row.id)
    const until = now + claimant.leaseMs
    this.#claims.set(row.id, { worker: claimant.worker, until })
    return toDelivery(row, until)
  }

  /** Runs `write` in this turn's transaction; the claim on `id` ends once it is committed. */
  #ending<T>(id: number, write: () => T): Promise<T> {
    const claim = this.#claims.get(id)
    return this.#writes.run(write).finally(() => {
      // Unless it was claimed again meanwhile (after its lease ran out).
      if (this.#claims.get(id) === claim) this.#claims.delete(id)
    })
  }

  record(items: readonly NewDelivery[]): Promise<number[]> {
    if (items.length === 0) return Promise.resolve([])
    const rows: Row[] = []
    return this.#writes.run(() => {
      const now = Date.now()
      return items.map((d) => this.#insert(d, now, 0, now, rows))
    }).then((ids) => {
      // Committed: from now on a claim may find them.
      for (const row of rows) if (this.#recorded.size < RECORDED_CACHE) this.#recorded.set(row.id, row)
      return ids
    })
  }

  async flush(): Promise<void> {
    this.#writes.flush()
  }

  /** Inserts a delivery; `rows` collects the row as written, for the cache of recorded ones. */
  #insert(d: NewDelivery, nextAt: number, attempts: number, createdAt = nextAt, rows?: Row[]): number {
    const spec = d.spec === undefined ? null : JSON.stringify(d.spec)
    const event = JSON.stringify(d.event ?? null)
    const context = JSON.stringify(d.context)
    const via = d.via ?? null
    const id = Number(this.#s.insert.run(d.target, spec, event, context, via, attempts, nextAt, createdAt).lastInsertRowid)
    rows?.push({ id, target: d.target, spec, event, context, via, attempts, next_at: nextAt, created_at: createdAt, held: 0, last_error: null })
    return id
  }

  async claimDue(claimant: Claimant, limit: number, now = Date.now()): Promise<Delivery[]> {
    if (limit <= 0) return []
    // Read without this turn's writes: a record not yet committed wakes the
    // dispatcher once it is, and a delivery whose completion or retry is not
    // yet committed is still claimed. The ids first, past the claimed ones;
    // then only the deliveries taken are read whole.
    const due = this.#inOrder.size === 0 ? this.#s.dueIds : this.#s.dueIdsNotInOrder
    const claimed: Delivery[] = []
    for (const id of due.all(now, limit + this.#claims.size) as number[]) {
      if (claimed.length === limit) break
      if (this.#claimed(id, now)) continue
      const row = this.#recorded.get(id) ?? this.#s.get.get(id) as Row | undefined
      if (row) claimed.push(this.#claim(claimant, row, now))
    }
    return claimed
  }

  async claimInOrder(claimant: Claimant, limit: number, now = Date.now()): Promise<Delivery[]> {
    if (limit <= 0 || this.#inOrder.size === 0) return []
    const claimed: Delivery[] = []
    for (const [target, running] of [...this.#inOrder]) {
      if (claimed.length === limit) break
      // One at a time: the last one taken (by now perhaps retargeted from the route) is still under way.
      if (running !== undefined && this.#claimed(running, now)) continue
      const first = this.#s.firstInOrder.get(target) as Row | undefined
      if (!first) {
        this.#inOrder.delete(target)
        await this.#writes.run(() => this.#s.leaveOrder.run(target))
        continue
      }
      // The oldest waits for its own time (a retry, or another's lease): nothing overtakes it.
      if (first.next_at > now || this.#claimed(first.id, now)) continue
      claimed.push(this.#claim(claimant, first, now))
      this.#inOrder.set(target, first.id)
    }
    return claimed
  }

  async renew(claimant: Claimant, ids: readonly number[]): Promise<void> {
    const until = Date.now() + claimant.leaseMs
    for (const id of ids) {
      const claim = this.#claims.get(id)
      if (claim?.worker === claimant.worker) claim.until = until
    }
  }

  complete(id: number): Promise<void> {
    return this.#ending(id, () => void this.#s.delete.run(id))
  }

  retryLater(id: number, attempts: number, nextAt: number, error: string): Promise<void> {
    return this.#ending(id, () => void this.#s.retry.run(attempts, nextAt, error, id))
  }

  hold(id: number): Promise<void> {
    return this.#ending(id, () => void this.#s.hold.run(id))
  }

  async release(target: string): Promise<number> {
    const released = await this.#writes.run(() => this.#db.transaction(() => {
      this.#s.putInOrder.run(target)
      return this.#s.release.run(Date.now(), target).changes
    })())
    if (!this.#inOrder.has(target)) this.#inOrder.set(target, undefined)
    return released
  }

  async heldCount(target: string): Promise<number> {
    this.#writes.flush()
    return (this.#s.countHeld.get(target) as { n: number }).n
  }

  retarget(id: number, target: string, spec: unknown, via: string | null): Promise<void> {
    return this.#writes.run(() => void this.#s.retarget.run(target, spec === undefined ? null : JSON.stringify(spec), via, id))
  }

  split(delivery: Delivery, targets: ReadonlyArray<{ target: string; spec: unknown }>, via: string): Promise<number[]> {
    return this.#ending(delivery.id, () => this.#db.transaction(() => {
      const now = Date.now()
      const ids = targets.map((t) => this.#insert({ ...delivery, target: t.target, spec: t.spec, via }, now, 0, delivery.createdAt))
      this.#s.delete.run(delivery.id)
      return ids
    })())
  }

  deadLetter(delivery: Delivery, error: string): Promise<number> {
    return this.#ending(delivery.id, () => this.#db.transaction(() => {
      const id = Number(this.#s.insertDead.run(delivery.id, delivery.target, delivery.spec === null ? null : JSON.stringify(delivery.spec), JSON.stringify(delivery.event), JSON.stringify(delivery.context), delivery.via, delivery.attempts, delivery.createdAt, Date.now(), error).lastInsertRowid)
      this.#s.delete.run(delivery.id)
      return id
    })())
  }

  async deadLetters(filter: DeadLetterFilter = {}): Promise<DeadLetter[]> {
    this.#writes.flush()
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
    const rows = this.#db.prepare(`SELECT * FROM dead_letters ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY id LIMIT ?`).all(...args) as DeadRow[]
    return rows.map(toDeadLetter)
  }

  replay(letters: readonly DeadLetter[]): Promise<number[]> {
    return this.#writes.run(() => this.#db.transaction(() => {
      const now = Date.now()
      return letters.map((l) => {
        const id = this.#insert({ target: l.target, spec: l.spec, event: l.event, context: l.context, via: l.via }, now, 0, l.createdAt)
        this.#s.deleteDead.run(l.id)
        return id
      })
    })())
  }

  async nextDueAt(): Promise<number | undefined> {
    // The earliest of what is not claimed (along the index, past the claimed
    // ones) and of the claims' leases; without this turn's writes, as for claims.
    const now = Date.now()
    let at: number | undefined
    for (const row of this.#s.nextDue.all(this.#claims.size + 1) as Array<{ id: number; next_at: number }>) {
      if (this.#claimed(row.id, now)) continue
      at = row.next_at
      break
    }
    for (const claim of this.#claims.values()) if (at === undefined || claim.until < at) at = claim.until
    return at
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

/** A delivery as claimed: due again at `nextAt`, when its claim ends. */
function toDelivery(r: Row, nextAt: number): Delivery {
  return {
    ...common(r),
    nextAt,
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
