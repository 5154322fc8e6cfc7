import type { Db } from './database.js'

/** Where the two flags are in the shared memory. */
const HOLD = 0
const COMMITTING = 1

/** The longest a hold keeps a commit waiting, should the checkpointer never say it is done. */
const MAX_HOLD_MS = 1000

/**
 * A moment with no commit, for the WAL checkpointer. SQLite starts the WAL
 * file again from its beginning only when a write finds every frame of it
 * copied into the database file; a checkpoint copies the frames that were
 * there when it began, and under commits that never pause (each turn of the
 * event loop commits its stored events) one always lands during it. The
 * WAL then grew without end: 32 MB a second at 40,000 stored events a
 * second, 1 GB in 30 s. When it has grown past a bound, the checkpointer
 * holds the gate for one checkpoint: the commits of the main thread wait
 * (their writes stay queued, the event loop goes on), the checkpoint copies
 * every frame, and the first commit after it starts the WAL again.
 *
 * The two flags are in memory the thread shares. A commit sets COMMITTING
 * and then reads HOLD; the checkpointer sets HOLD and then waits while
 * COMMITTING is set. With both orders sequentially consistent, either the
 * commit sees the hold and waits, or the checkpointer sees the commit and
 * lets it finish.
 *
 * Commits that must happen at once (a read of what is queued, a close) do
 * not ask: one of them during a held checkpoint only means that the WAL
 * starts again at a later one.
 */
export class CommitGate {
  readonly shared = new SharedArrayBuffer(2 * Int32Array.BYTES_PER_ELEMENT)
  readonly #flags = new Int32Array(this.shared)
  #waiting: Array<() => void> = []
  #timer: NodeJS.Timeout | undefined

  /**
   * Runs `commit` now, or once the gate opens if the checkpointer holds it;
   * true when it ran now.
   */
  pass(commit: () => void): boolean {
    Atomics.store(this.#flags, COMMITTING, 1)
    if (Atomics.load(this.#flags, HOLD) === 0) {
      try {
        commit()
      } finally {
        this.#left()
      }
      return true
    }
    this.#left()
    this.#waiting.push(commit)
    this.#timer ??= setTimeout(() => this.open(true), MAX_HOLD_MS).unref()
    return false
  }

  /** Whether the checkpointer holds the gate now. */
  get held(): boolean {
    return Atomics.load(this.#flags, HOLD) === 1
  }

  /**
   * The checkpointer let go of the gate: what waited commits, in order.
   * `force` opens a gate it may still hold (it is gone, or took too long).
   */
  open(force = false): void {
    if (force) Atomics.store(this.#flags, HOLD, 0)
    clearTimeout(this.#timer)
    this.#timer = undefined
    for (const commit of this.#waiting.splice(0)) this.pass(commit)
  }

  #left(): void {
    Atomics.store(this.#flags, COMMITTING, 0)
    Atomics.notify(this.#flags, COMMITTING)
  }
}

const gates = new WeakMap<Db, CommitGate>()

/** The gate of the stores that commit to `db` (one per database). */
export function commitGate(db: Db): CommitGate {
  let gate = gates.get(db)
  if (!gate) gates.set(db, (gate = new CommitGate()))
  return gate
}

/**
 * The checkpointer's side, as source to run in its thread: holds the gate
 * over the shared `buffer`, waits for a commit under way to end, runs
 * `checkpoint`, and lets go (the main thread is told to open, see
 * CommitGate#open). Self-contained.
 */
export function holdingCommits<T>(buffer: SharedArrayBuffer, checkpoint: () => T): T {
  const flags = new Int32Array(buffer)
  Atomics.store(flags, 0, 1)
  try {
    while (Atomics.load(flags, 1) === 1) Atomics.wait(flags, 1, 1, 50)
    return checkpoint()
  } finally {
    Atomics.store(flags, 0, 0)
  }
}
