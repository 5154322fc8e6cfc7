import { StoreError } from '../errors.js'
import type { Db } from './database.js'
import { storageCode } from './store-health.js'

/**
 * Applies a component's schema steps that the database has not seen yet, in
 * order, each in its own transaction. A step is never edited once released:
 * a change is a new step at the end. A database that cannot be written
 * (full, read-only) is a StoreError that says so, when a step is due.
 */
export function migrate(db: Db, component: string, steps: readonly string[]): void {
  try {
    db.exec(`CREATE TABLE IF NOT EXISTS switchyard_migrations (
      component TEXT PRIMARY KEY,
      version INTEGER NOT NULL
    )`)
    const row = db.prepare('SELECT version FROM switchyard_migrations WHERE component = ?').get(component) as { version: number } | undefined
    const current = row?.version ?? 0
    for (let version = current + 1; version <= steps.length; version++) {
      db.transaction(() => {
        db.exec(steps[version - 1]!)
        db.prepare('INSERT INTO switchyard_migrations (component, version) VALUES (?, ?) ON CONFLICT (component) DO UPDATE SET version = excluded.version').run(component, version)
      })()
    }
  } catch (err) {
    if (!storageCode(err)) throw err
    throw new StoreError(`cannot create the ${component} tables: the database cannot be written (${(err as Error).message})`, { cause: err })
  }
}
