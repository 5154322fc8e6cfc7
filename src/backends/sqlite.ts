import type { Logger } from 'pino'
import type { Registry } from 'prom-client'
import { createSqlitePersistence } from '../persistence/index.js'
import type { Storage } from '../storage/index.js'
import { startCheckpointer } from '../store/checkpointer.js'
import { closeDatabase, openDatabase, type Db } from '../store/database.js'
import { EventStore } from '../store/event-store.js'
import { SqliteOutboxStore } from '../store/outbox.js'
import { SqliteRouteStateStore } from '../store/route-state.js'
import { SqliteSessionOwnerStore } from '../store/session-owners.js'
import { storeHealth } from '../store/store-health.js'

export interface SqliteStorage extends Storage {
  readonly db: Db
}

/**
 * The embedded default: every store on one SQLite file, in WAL mode, with
 * checkpoints from a thread of their own. One process uses the file.
 */
export function openSqliteStorage(path: string, log: Logger, registry: Registry): SqliteStorage {
  const storeLog = log.child({ module: 'store' })
  const db = openDatabase(path)
  try {
    storeHealth(db).report(storeLog, registry)
    const sessions = createSqlitePersistence({ db })
    const outbox = new SqliteOutboxStore(db)
    const events = new EventStore(db)
    const routes = new SqliteRouteStateStore(db)
    const owners = new SqliteSessionOwnerStore(db)
    const checkpointer = startCheckpointer(db, path, storeLog)
    return {
      db,
      sessions,
      outbox,
      events,
      routes,
      owners,
      async close() {
        await outbox.flush()
        await events.flush()
        await sessions.destroy()
        await checkpointer?.stop()
        closeDatabase(db)
      },
    }
  } catch (err) {
    closeDatabase(db)
    throw err
  }
}
