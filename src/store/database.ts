import Database from 'better-sqlite3'
import { mkdirSync } from 'node:fs'
import { dirname } from 'node:path'
import { StoreError } from '../errors.js'
import { storageCode, storeHealth } from './store-health.js'

export type Db = Database.Database

/**
 * Opens the one SQLite database that the session store and the other stores
 * share. WAL lets readers run beside the writer; `synchronous = NORMAL`
 * commits survive a crash of the process (though not of the machine), which
 * is the promise a broker makes.
 */
export function openDatabase(path: string): Db {
  if (path !== ':memory:') {
    try {
      mkdirSync(dirname(path), { recursive: true })
    } catch (err) {
      throw new StoreError(`cannot create the folder for the database ${path}: ${(err as Error).message}`, { cause: err })
    }
  }
  let db: Db
  try {
    db = new Database(path)
    db.pragma('journal_mode = WAL')
    db.pragma('synchronous = NORMAL')
    db.pragma('busy_timeout = 5000')
    db.pragma('foreign_keys = ON')
  } catch (err) {
    const why = storageCode(err) === 'SQLITE_READONLY'
      ? 'it is read-only, and Switchyard must write it (check the permissions of the file and of its folder)'
      : (err as Error).message
    throw new StoreError(`cannot open the database ${path}: ${why}`, { cause: err })
  }
  probeWrite(db)
  return db
}

/**
 * Tries a write and takes it back, so that a database that opens but cannot
 * be written (a read-only file whose WAL is readable, a full disk) is known
 * from the start: the broker then starts and serves what needs no writes,
 * and StoreHealth says what is wrong, rather than the first client finding
 * out. A database that cannot be opened at all is an error above.
 */
function probeWrite(db: Db): void {
  db.exec('SAVEPOINT switchyard_write_probe')
  try {
    db.exec('CREATE TABLE switchyard_write_probe (x)')
  } catch (err) {
    // Another connection writing (busy, locked) says nothing either way.
    const busy = /^SQLITE_(BUSY|LOCKED)/.test((err as { code?: string }).code ?? '')
    if (!busy && !storeHealth(db).failed('database', err, 0)) throw err
  } finally {
    db.exec('ROLLBACK TO switchyard_write_probe; RELEASE switchyard_write_probe')
  }
}

/**
 * Checkpoints the WAL into the main file and closes the database. A
 * checkpoint that fails (a full disk, a read-only file) only leaves the WAL
 * in place, to be replayed at the next open; the database is closed anyway.
 */
export function closeDatabase(db: Db): void {
  if (!db.open) return
  try {
    db.pragma('wal_checkpoint(TRUNCATE)')
  } catch (err) {
    if (!storageCode(err)) {
      db.close()
      throw err
    }
  }
  db.close()
}
