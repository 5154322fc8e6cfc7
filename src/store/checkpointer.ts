import { createRequire } from 'node:module'
import { Worker } from 'node:worker_threads'
import type { Logger } from 'pino'
import type { Db } from './database.js'

// How often the WAL is copied back into the database file.
const INTERVAL_MS = 200
// SQLite's own default, restored if the checkpointer cannot run.
const AUTOCHECKPOINT_PAGES = 1000

/**
 * The checkpointer's thread: its own connection to the file, and a PASSIVE
 * checkpoint every interval, which copies what it can of the WAL into the
 * database file without waiting on the writer. Plain CommonJS, so that it
 * runs the same from src/ under the tests and from dist/.
 */
const WORKER = `
const { workerData, parentPort } = require('node:worker_threads')
const Database = require(workerData.sqlite)
let db
try {
  db = new Database(workerData.path, { fileMustExist: true })
  db.pragma('busy_timeout = 1000')
} catch (err) {
  parentPort.postMessage({ fatal: err.message })
  process.exit(0)
}
const timer = setInterval(() => {
  try {
    db.pragma('wal_checkpoint(PASSIVE)')
  } catch (err) {
    parentPort.postMessage({ error: err.message, code: err.code })
  }
}, workerData.intervalMs)
parentPort.on('message', () => {
  clearInterval(timer)
  db.close()
  parentPort.close()
})
`

export interface Checkpointer {
  stop(): Promise<void>
}

/**
 * Moves WAL checkpoints off the event loop. SQLite checkpoints in the
 * connection that commits when the WAL passes 1,000 pages, and a checkpoint
 * syncs the database file: on the development machine's disk that stalled
 * the broker for 30 to 360 ms during a store-heavy load. Here the main
 * connection never checkpoints; a worker thread with its own connection
 * does, every 200 ms, without blocking the writer. Should the thread fail,
 * the main connection checkpoints by itself again.
 */
export function startCheckpointer(db: Db, path: string, log: Logger): Checkpointer | undefined {
  if (path === ':memory:' || db.memory) return undefined
  const sqlite = createRequire(import.meta.url).resolve('better-sqlite3')
  const worker = new Worker(WORKER, { eval: true, workerData: { path, sqlite, intervalMs: INTERVAL_MS } })
  db.pragma('wal_autocheckpoint = 0')
  let stopped = false
  const fallBack = (why: string) => {
    if (stopped) return
    log.warn({ why }, 'the WAL checkpointer thread stopped; the broker checkpoints by itself again')
    if (db.open) db.pragma(`wal_autocheckpoint = ${AUTOCHECKPOINT_PAGES}`)
  }
  let lastError = ''
  worker.on('message', (m: { fatal?: string; error?: string; code?: string }) => {
    if (m.fatal) return fallBack(m.fatal)
    // A busy or full database is for the store's own health reports; say each new trouble once.
    if (m.error && m.error !== lastError) log.debug({ err: m.error, code: m.code }, 'WAL checkpoint failed; it is tried again')
    lastError = m.error ?? ''
  })
  worker.on('error', (err) => fallBack(err.message))
  worker.on('exit', () => fallBack('it exited'))
  worker.unref()
  return {
    async stop() {
      if (stopped) return
      stopped = true
      // Held while it stops: an unreferenced thread would let the process end before it has.
      worker.ref()
      const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()))
      worker.postMessage('stop')
      let timer: NodeJS.Timeout | undefined
      await Promise.race([exited, new Promise<void>((resolve) => (timer = setTimeout(resolve, 2000)))])
      clearTimeout(timer)
      await worker.terminate()
      if (db.open) db.pragma(`wal_autocheckpoint = ${AUTOCHECKPOINT_PAGES}`)
    },
  }
}
