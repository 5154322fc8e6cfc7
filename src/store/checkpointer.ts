import { statSync } from 'node:fs'
import { createRequire } from 'node:module'
import { Worker } from 'node:worker_threads'
import type { Logger } from 'pino'
import { commitGate, holdingCommits } from './commit-gate.js'
import type { Db } from './database.js'

/** How the checkpoints are paced (checkpointPace). */
export interface CheckpointPacing {
  /** The WAL frames (pages) one checkpoint should copy. */
  frames: number
  /** The shortest and the longest wait between two checkpoints. */
  minMs: number
  maxMs: number
}

const PACING: CheckpointPacing = { frames: 1024, minMs: 50, maxMs: 200 }

/**
 * The WAL frames (16 MB of 4 KB pages) past which the next checkpoint holds
 * the commits back (CommitGate), so that the WAL starts again from its
 * beginning.
 */
const RESTART_FRAMES = 4096

// SQLite's own default, restored if the checkpointer cannot run.
const AUTOCHECKPOINT_PAGES = 1000

/**
 * The wait before the next checkpoint, from the last wait and how many WAL
 * frames the checkpoint after it copied: scaled so that each copies about
 * `frames`, within `minMs` and `maxMs`, and the longest when it copied
 * none. A checkpoint is one call into SQLite that the thread cannot break
 * off, and on the one core of the benchmark it held the core the event
 * loop needs for as long as it ran: every 200 ms under the store action's
 * load it copied about 3,300 frames, 8 ms of CPU, and held the core 5 to 7
 * ms at a time, the longest turns of the event loop then. About 1,024
 * frames every 60 ms held it at most 3.8 ms at a time, and took 4.5 % of
 * the core against 4.0 (bench/LIMITS.md, the store action's longest stall).
 * Self-contained: its source runs in the thread.
 */
export function checkpointPace(delay: number, copied: number, { frames, minMs, maxMs }: CheckpointPacing): number {
  if (!(copied > 0)) return maxMs
  return Math.min(maxMs, Math.max(minMs, Math.round((delay * frames) / copied)))
}

/**
 * The checkpointer's thread: its own connection to the file, and a PASSIVE
 * checkpoint every 50 to 200 ms (checkpointPace), which copies what it can
 * of the WAL into the database file without waiting on the writer. Once
 * the WAL has RESTART_FRAMES frames, a second checkpoint follows with the
 * main thread's commits held back (CommitGate), so that the WAL starts
 * again from its beginning. Plain
 * CommonJS, so that it runs the same from src/ under the tests and from
 * dist/.
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
const pace = ${checkpointPace.toString()}
const holdingCommits = ${holdingCommits.toString()}
let delay = workerData.pacing.maxMs
let log = 0
let checkpointed = 0
let timer
const passive = () => db.pragma('wal_checkpoint(PASSIVE)')[0]
/** The frames a checkpoint copied, from its result and the one before. */
const counted = (result) => {
  // A WAL that has started again from its beginning had every frame copied before.
  const copied = result.log < log ? result.checkpointed : result.checkpointed - checkpointed
  log = result.log
  checkpointed = result.checkpointed
  return copied
}
const checkpoint = () => {
  let copied = 0
  try {
    const before = log
    copied = counted(passive())
    // Commits landed during every checkpoint since the WAL last started
    // again: one more, with none beside it, copies the few frames they
    // added and lets the next commit start it again. (A WAL that has not
    // grown since the last one had no commit since, and the last one copied
    // it all: the next commit starts it again by itself.)
    if (log >= workerData.restartFrames && log !== before) {
      try {
        copied += counted(holdingCommits(workerData.gate, passive))
      } finally {
        parentPort.postMessage({ opened: true })
      }
    }
  } catch (err) {
    parentPort.postMessage({ error: err.message, code: err.code })
  }
  delay = pace(delay, copied, workerData.pacing)
  timer = setTimeout(checkpoint, delay)
}
timer = setTimeout(checkpoint, delay)
parentPort.on('message', () => {
  clearTimeout(timer)
  db.close()
  parentPort.close()
})
`

export interface Checkpointer {
  /** Whether its thread has been started: once the WAL first reached the 1,000 pages at which SQLite would have checkpointed. */
  readonly started: boolean
  stop(): Promise<void>
}

/**
 * Moves WAL checkpoints off the event loop. SQLite checkpoints in the
 * connection that commits when the WAL passes 1,000 pages, and a checkpoint
 * syncs the database file: on the development machine's disk that stalled
 * the broker for 30 to 360 ms during a store-heavy load. Here the main
 * connection never checkpoints; a worker thread with its own connection
 * does, every 50 to 200 ms, without blocking the writer, and holds the
 * stores' commits back for one checkpoint when the WAL must start again
 * (CommitGate). Should the thread fail, the main connection checkpoints by
 * itself again.
 *
 * The thread is started when the WAL first reaches those 1,000 pages (its
 * size is looked at every 200 ms until then): a worker thread is a second
 * Node.js environment, 14 MB of resident memory (the idle broker's RSS
 * with and without it), which a broker that writes little (clean sessions,
 * no store rules) never needs. Until then nothing checkpoints, as SQLite
 * itself would not have either.
 */
export function startCheckpointer(db: Db, path: string, log: Logger): Checkpointer | undefined {
  if (path === ':memory:' || db.memory) return undefined
  db.pragma('wal_autocheckpoint = 0')
  const startAt = AUTOCHECKPOINT_PAGES * Number(db.pragma('page_size', { simple: true }))
  let thread: CheckpointThread | undefined
  let stopped = false
  const watch = setInterval(() => {
    if (walBytes(db.name) < startAt) return
    clearInterval(watch)
    thread = startThread(db, path, log, () => stopped)
  }, PACING.maxMs)
  watch.unref()
  return {
    get started() {
      return thread !== undefined
    },
    async stop() {
      if (stopped) return
      stopped = true
      clearInterval(watch)
      await thread?.stop()
      if (db.open) db.pragma(`wal_autocheckpoint = ${AUTOCHECKPOINT_PAGES}`)
    },
  }
}

/** The size of the database's WAL file; none yet is an empty one. */
function walBytes(file: string): number {
  try {
    return statSync(`${file}-wal`).size
  } catch {
    return 0
  }
}

interface CheckpointThread {
  stop(): Promise<void>
}

/** The worker thread and what watches it; `stopped` says whether its end is the one asked for. */
function startThread(db: Db, path: string, log: Logger, stopped: () => boolean): CheckpointThread {
  const sqlite = createRequire(import.meta.url).resolve('better-sqlite3')
  const gate = commitGate(db)
  const worker = new Worker(WORKER, { eval: true, workerData: { path, sqlite, pacing: PACING, gate: gate.shared, restartFrames: RESTART_FRAMES } })
  const fallBack = (why: string) => {
    // A thread that is gone holds no commit back.
    gate.open(true)
    if (stopped()) return
    log.warn({ why }, 'the WAL checkpointer thread stopped; the broker checkpoints by itself again')
    if (db.open) db.pragma(`wal_autocheckpoint = ${AUTOCHECKPOINT_PAGES}`)
  }
  let lastError = ''
  worker.on('message', (m: { fatal?: string; error?: string; code?: string; opened?: boolean }) => {
    if (m.opened) return gate.open()
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
      // Held while it stops: an unreferenced thread would let the process end before it has.
      worker.ref()
      const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()))
      worker.postMessage('stop')
      let timer: NodeJS.Timeout | undefined
      await Promise.race([exited, new Promise<void>((resolve) => (timer = setTimeout(resolve, 2000)))])
      clearTimeout(timer)
      await worker.terminate()
    },
  }
}
