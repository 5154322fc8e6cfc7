import type { Statement } from 'better-sqlite3'
import type { Claimant, DeadLetter, DeadLetterFilter, Delivery, DeliveryContext, NewDelivery, OutboxStore } from '../storage/outbox-store.js'
import type { Db } from './database.js'
import { migrate } from './migrate.js'
import { storageCode } from './store-health.js'
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
  // Claims: a claimed delivery's next_at is when its lease runs out, so that
  // an expired claim is simply due again. Addresses whose released backlog
  // goes out in order, one at a time.
  `ALTER TABLE deliveries ADD COLUMN claimed_by TEXT;
  CREATE TABLE deliveries_in_order (target TEXT PRIMARY KEY, running INTEGER);`,
]

type Row = { id: number; target: string; spec: string | null; event: string; context: string; via: string | null; attempts: number; next_at: number; created_at: number; held: number; last_error: string | null }
type DeadRow = Omit<Row, 'next_at' | 'held' | 'last_error'> & { delivery_id: number; failed_at: number; error: string }

const COLUMNS = 'id, target, spec, event, context, via, attempts, next_at, created_at, held, last_error'

/**
 * The outbox in SQLite. Records, claims and completions made in one turn of
 * the event loop share one transaction (group commit), which keeps
 * recording before each PUBACK cheap.
 *
 * One process uses the file: claims are kept for the lease all the same (so
 * that the dispatcher works the same on any store), and those left by an
 * earlier run of the process are void when the store opens, so that what a
 * crash interrupted is made again at once rather than after its lease.
 */
export class SqliteOutboxStore implements OutboxStore {
  readonly #db: Db
  readonly #s: Record<'insert' | 'dueIds' | 'inOrder' | 'isRunning' | 'setRunning' | 'firstInOrder' | 'claimOne' | 'leaveOrder' | 'renew' | 'delete' | 'retry' | 'hold' | 'release' | 'putInOrder' | 'retarget' | 'nextDue' | 'insertDead' | 'countHeld' | 'deleteDead', Statement>
  readonly #writes: WriteBatch

  constructor(db: Db) {
    migrate(db, 'delivery', STEPS)
    this.#db = db
    this.#writes = new WriteBatch(db, () => {}, 'outbox')
    this.#s = {
      insert: db.prepare('INSERT INTO deliveries (target, spec, event, context, via, attempts, next_at, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)'),
      // Along the deliveries_due index, so that a long backlog is not sorted at every look.
      dueIds: db.prepare(`SELECT id FROM deliveries WHERE held = 0 AND next_at <= ? AND target NOT IN (SELECT target FROM deliveries_in_order)
        ORDER BY held, next_at, id LIMIT ?`),
      inOrder: db.prepare('SELECT target, running FROM deliveries_in_order'),
      isRunning: db.prepare('SELECT 1 FROM deliveries WHERE id = ? AND claimed_by IS NOT NULL AND next_at > ?').pluck(),
      setRunning: db.prepare('UPDATE deliveries_in_order SET running = ? WHERE target = ?'),
      firstInOrder: db.prepare(`SELECT ${COLUMNS} FROM deliveries WHERE held = 0 AND target = ? ORDER BY id LIMIT 1`),
      // Only while it is still due and not held: what was read as due may have been taken since.
      claimOne: db.prepare(`UPDATE deliveries SET claimed_by = ?, next_at = ? WHERE id = ? AND held = 0 AND next_at <= ? RETURNING ${COLUMNS}`),
      leaveOrder: db.prepare('DELETE FROM deliveries_in_order WHERE target = ?'),
      renew: db.prepare('UPDATE deliveries SET next_at = ? WHERE id = ? AND claimed_by = ?'),
      delete: db.prepare('DELETE FROM deliveries WHERE id = ?'),
      retry: db.prepare('UPDATE deliveries SET attempts = ?, next_at = ?, last_error = ?, claimed_by = NULL WHERE id = ?'),
      hold: db.prepare('UPDATE deliveries SET held = 1, claimed_by = NULL WHERE id = ?'),
      release: db.prepare('UPDATE deliveries SET held = 0, next_at = ? WHERE held = 1 AND target = ?'),
      putInOrder: db.prepare('INSERT OR IGNORE INTO deliveries_in_order (target) VALUES (?)'),
      retarget: db.prepare('UPDATE deliveries SET target = ?, spec = ?, via = ? WHERE id = ?'),
      nextDue: db.prepare('SELECT min(next_at) AS at FROM deliveries WHERE held = 0'),
      insertDead: db.prepare('INSERT INTO dead_letters (delivery_id, target, spec, event, context, via, attempts, created_at, failed_at, error) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)'),
      countHeld: db.prepare('SELECT count(*) AS n FROM deliveries WHERE held = 1 AND target = ?'),
      deleteDead: db.prepare('DELETE FROM dead_letters WHERE id = ?'),
    }
    this.#voidEarlierClaims()
  }

  /**
   * The claims of an earlier run of the process are void: what it was
   * making is due at once. Only written when there are any, so that a
   * database that cannot be written still opens (and says so when written).
   */
  #voidEarlierClaims(): void {
    const db = this.#db
    if (db.prepare('SELECT 1 FROM deliveries WHERE claimed_by IS NOT NULL LIMIT 1').get() === undefined) return
    try {
      db.prepare('UPDATE deliveries SET claimed_by = NULL, next_at = min(next_at, ?) WHERE claimed_by IS NOT NULL').run(Date.now())
    } catch (err) {
      // Nothing can be delivered from a database that cannot be written; its health reports why.
      if (!storageCode(err)) throw err
    }
  }

  record(items: readonly NewDelivery[]): Promise<number[]> {
    if (items.length === 0) return Promise.resolve([])
    return this.#writes.run(() => {
      const now = Date.now()
      return items.map((d) => this.#insert(d, now, 0))
    })
  }

  async flush(): Promise<void> {
    this.#writes.flush()
  }

  #insert(d: NewDelivery, nextAt: number, attempts: number, createdAt = nextAt): number {
    return Number(this.#s.insert.run(d.target, d.spec === undefined ? null : JSON.stringify(d.spec), JSON.stringify(d.event ?? null), JSON.stringify(d.context), d.via ?? null, attempts, nextAt, createdAt).lastInsertRowid)
  }

  claimDue(claimant: Claimant, limit: number, now = Date.now()): Promise<Delivery[]> {
    if (limit <= 0) return Promise.resolve([])
    // Read first, and write only when something is due: a look that finds
    // nothing is no commit (and tells nothing of whether the file can be
    // written). The read need not wait for this turn's writes: a record not
    // yet committed wakes the dispatcher once it is, and a delivery whose
    // completion or retry is not yet committed is still claimed, so not due.
    const ids = this.#s.dueIds.pluck().all(now, limit) as number[]
    if (ids.length === 0) return Promise.resolve([])
    return this.#writes.run(() => {
      const until = now + claimant.leaseMs
      const claimed: Delivery[] = []
      for (const id of ids) {
        const row = this.#s.claimOne.get(claimant.worker, until, id, now) as Row | undefined
        if (row) claimed.push(toDelivery(row))
      }
      return claimed
    })
  }

  claimInOrder(claimant: Claimant, limit: number, now = Date.now()): Promise<Delivery[]> {
    if (limit <= 0) return Promise.resolve([])
    // A release not yet committed wakes the dispatcher once it is.
    if (this.#s.inOrder.get() === undefined) return Promise.resolve([])
    return this.#writes.run(() => {
      const claimed: Delivery[] = []
      for (const { target, running } of this.#s.inOrder.all() as Array<{ target: string; running: number | null }>) {
        if (claimed.length === limit) break
        // One at a time: the last one taken (by now perhaps retargeted from the route) is still under way.
        if (running !== null && this.#s.isRunning.get(running, now) !== undefined) continue
        const first = this.#s.firstInOrder.get(target) as Row | undefined
        if (!first) {
          this.#s.leaveOrder.run(target)
          continue
        }
        // The oldest waits for its own time (a retry, or another's lease): nothing overtakes it.
        // A claim whose lease has run out is taken over, as claimDue does.
        if (first.next_at > now) continue
        const row = this.#s.claimOne.get(claimant.worker, now + claimant.leaseMs, first.id, now) as Row | undefined
        if (!row) continue
        claimed.push(toDelivery(row))
        this.#s.setRunning.run(first.id, target)
      }
      return claimed
    })
  }

  renew(claimant: Claimant, ids: readonly number[]): Promise<void> {
    if (ids.length === 0) return Promise.resolve()
    return this.#writes.run(() => {
      const until = Date.now() + claimant.leaseMs
      for (const id of ids) this.#s.renew.run(until, id, claimant.worker)
    })
  }

  complete(id: number): Promise<void> {
    return this.#writes.run(() => void this.#s.delete.run(id))
  }

  retryLater(id: number, attempts: number, nextAt: number, error: string): Promise<void> {
    return this.#writes.run(() => void this.#s.retry.run(attempts, nextAt, error, id))
  }

  hold(id: number): Promise<void> {
    return this.#writes.run(() => void this.#s.hold.run(id))
  }

  release(target: string): Promise<number> {
    return this.#writes.run(() => this.#db.transaction(() => {
      this.#s.putInOrder.run(target)
      return this.#s.release.run(Date.now(), target).changes
    })())
  }

  async heldCount(target: string): Promise<number> {
    this.#writes.flush()
    return (this.#s.countHeld.get(target) as { n: number }).n
  }

  retarget(id: number, target: string, spec: unknown, via: string | null): Promise<void> {
    return this.#writes.run(() => void this.#s.retarget.run(target, spec === undefined ? null : JSON.stringify(spec), via, id))
  }

  split(delivery: Delivery, targets: ReadonlyArray<{ target: string; spec: unknown }>, via: string): Promise<number[]> {
    return this.#writes.run(() => this.#db.transaction(() => {
      const now = Date.now()
      const ids = targets.map((t) => this.#insert({ ...delivery, target: t.target, spec: t.spec, via }, now, 0, delivery.createdAt))
      this.#s.delete.run(delivery.id)
      return ids
    })())
  }

  deadLetter(delivery: Delivery, error: string): Promise<number> {
    return this.#writes.run(() => this.#db.transaction(() => {
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
    // Without this turn's writes, as for claims: what they change is looked at again once they commit.
    return (this.#s.nextDue.get() as { at: number | null }).at ?? undefined
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
