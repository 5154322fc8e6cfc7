import Database from 'better-sqlite3'
import { mkdirSync } from 'node:fs'
import { dirname } from 'node:path'
import { StoreError } from '../errors.js'

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
    throw new StoreError(`cannot open the database ${path}: ${(err as Error).message}`, { cause: err })
  }
  return db
}

/** Checkpoints the WAL into the main file and closes the database. */
export function closeDatabase(db: Db): void {
  if (!db.open) return
  try {
    db.pragma('wal_checkpoint(TRUNCATE)')
  } finally {
    db.close()
  }
}
