import BetterSqlite3, { type Database } from 'better-sqlite3'
import type { Logger } from 'pino'
import { Counter, Gauge, type Registry } from 'prom-client'

/**
 * SQLite result codes that mean the database itself cannot take writes
 * (a full disk, a read-only or vanished file, an I/O error), as opposed to
 * a write that is wrong in itself. Extended codes (SQLITE_IOERR_WRITE,
 * SQLITE_READONLY_DBMOVED) count under their primary code.
 */
const STORAGE_CODES = ['SQLITE_FULL', 'SQLITE_READONLY', 'SQLITE_IOERR', 'SQLITE_CANTOPEN', 'SQLITE_CORRUPT', 'SQLITE_NOTADB', 'SQLITE_PERM', 'SQLITE_NOMEM', 'SQLITE_PROTOCOL'] as const

const REASONS: Record<string, string> = {
  SQLITE_FULL: 'the disk or the database is full',
  SQLITE_READONLY: 'the database is read-only (check the permissions of the file and its folder, and whether the file system is mounted read-only)',
  SQLITE_IOERR: 'the disk reported an I/O error',
  SQLITE_CANTOPEN: 'the database file or its journal cannot be opened',
  SQLITE_CORRUPT: 'the database file is corrupt',
  SQLITE_NOTADB: 'the file is not a SQLite database',
  SQLITE_PERM: 'the operating system denied access to the database',
}

// While writes keep failing, the error is repeated at most this often.
const REMIND_EVERY_MS = 60_000

/** The primary storage code of a SQLite error, or undefined for any other error. */
export function storageCode(err: unknown): string | undefined {
  if (!(err instanceof BetterSqlite3.SqliteError)) return undefined
  return STORAGE_CODES.find((code) => err.code === code || err.code.startsWith(`${code}_`))
}

/**
 * Whether the database can be written, as the stores that share it find out
 * when they commit. The first failure is logged as an error that says what
 * is wrong and what is not being saved, then at most once a minute while it
 * lasts; the first commit after it says the database is writable again.
 * `switchyard_store_write_errors_total{code}` counts failed commits and
 * `switchyard_store_writable` is 0 from a failure to the next good commit.
 *
 * Failures are counted from the start; the log and the metrics come once
 * `report` is called.
 */
export class StoreHealth {
  #log: Logger | undefined
  #writable = true
  #failedSince = 0
  #lastLogged = 0
  #lastCode: string | undefined
  #lastMessage = ''
  readonly #errors = new Map<string, number>()

  get writable(): boolean {
    return this.#writable
  }

  /** Failed commits so far, by primary SQLite code. */
  get errors(): ReadonlyMap<string, number> {
    return this.#errors
  }

  /** Logs to `log` and adds the metrics to `registry`; a failure found before (at open) is logged now. */
  report(log: Logger, registry: Registry): void {
    this.#log = log
    if (!this.#writable) this.#logFailure(this.#lastCode ?? 'SQLITE_IOERR', 'database', this.#lastMessage)
    const health = this
    new Counter({
      name: 'switchyard_store_write_errors_total',
      help: 'Writes to the SQLite database that failed because it could not be written (full, read-only, I/O error), by SQLite code',
      labelNames: ['code'],
      registers: [registry],
      collect() {
        this.reset()
        for (const code of ['SQLITE_FULL', 'SQLITE_READONLY', 'SQLITE_IOERR']) this.inc({ code }, 0)
        for (const [code, n] of health.#errors) this.inc({ code }, n)
      },
    })
    new Gauge({
      name: 'switchyard_store_writable',
      help: '1 while the SQLite database takes writes, 0 from a failed write until the next one that succeeds',
      registers: [registry],
      collect() {
        this.set(health.#writable ? 1 : 0)
      },
    })
  }

  /**
   * Notes `writes` failed writes of `store` ('sessions', 'events', ...).
   * Returns true when the error is the database's (see STORAGE_CODES),
   * false for an error of the write itself, which says nothing about the
   * database.
   */
  failed(store: string, err: unknown, writes = 1): boolean {
    const code = storageCode(err)
    if (!code) return false
    this.#errors.set(code, (this.#errors.get(code) ?? 0) + writes)
    this.#lastCode = code
    this.#lastMessage = (err as Error).message
    const now = Date.now()
    if (this.#writable) {
      this.#writable = false
      this.#failedSince = this.#failureCount() - writes
      this.#lastLogged = now
      this.#logFailure(code, store, this.#lastMessage)
    } else if (now - this.#lastLogged >= REMIND_EVERY_MS) {
      this.#lastLogged = now
      this.#log?.error({ code, store, failedWrites: this.#failureCount() - this.#failedSince }, `the database still cannot be written: ${REASONS[code] ?? this.#lastMessage}`)
    }
    return true
  }

  #logFailure(code: string, store: string, message: string): void {
    this.#log?.error(
      { code, store, err: message },
      `the database cannot be written: ${REASONS[code] ?? message}. Until it can, persistent sessions, offline queues, retained messages, wills and stored events are not saved; clients whose publish or subscription needs a write are disconnected, and the rest are served`,
    )
  }

  /** Notes a write that was committed: the database takes writes (again). */
  committed(): void {
    if (this.#writable) return
    this.#writable = true
    this.#log?.info({ failedWrites: this.#failureCount() - this.#failedSince }, 'the database can be written again')
  }

  #failureCount(): number {
    let n = 0
    for (const count of this.#errors.values()) n += count
    return n
  }
}

const byDatabase = new WeakMap<Database, StoreHealth>()

/** The one StoreHealth of a database, shared by every store that writes it. */
export function storeHealth(db: Database): StoreHealth {
  let health = byDatabase.get(db)
  if (!health) {
    health = new StoreHealth()
    byDatabase.set(db, health)
  }
  return health
}
