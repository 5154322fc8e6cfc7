import { existsSync } from 'node:fs'
import { availableParallelism } from 'node:os'
import { fileURLToPath } from 'node:url'
import type { Logger } from 'pino'
import { IdMap } from '../id-map.js'
import { PoolThread } from './pool-thread.js'
import type { CallMessage, LogLevel, ResultMessage, WorkerTask } from './protocol.js'

/**
 * The worker file, as JavaScript. Built, this module is dist/functions/
 * worker-pool.js and the worker sits beside it. Under vitest it runs as
 * TypeScript from src/, where there is no worker.js and a worker thread
 * could not load a .ts file anyway; the test command builds first, so point
 * at the compiled copy in dist/.
 */
export const WORKER_FILE = fileURLToPath(import.meta.url.endsWith('.ts')
  ? new URL('../../dist/functions/worker.js', import.meta.url)
  : new URL('./worker.js', import.meta.url))

// A runaway allocation ends its own worker (ERR_WORKER_OUT_OF_MEMORY), not the broker.
export const WORKER_HEAP_MB = 256
// Threads above the first one retire after this long without work.
const IDLE_TIMEOUT = 30_000
// How long closing waits for running invocations before terminating their threads.
const CLOSE_GRACE = 2000
/**
 * Tasks a thread holds at once, as a multiple of what it may run at once:
 * as many again wait there, to begin as soon as one returns, without a
 * round trip to this thread.
 */
const DEPTH = 2
/** A task waiting behind one that has run this long goes to a thread that is free. */
const STEAL_AFTER_MS = 20

/**
 * What a worker's `process.env` starts with: the broker's NODE_ENV alone
 * (libraries read it to choose production behaviour; it is no secret).
 * Without `env`, a worker thread gets a copy of the broker's whole
 * environment, its credentials among it. A function's own variables come
 * from its config, per invocation (worker.ts).
 */
function workerEnvironment(): Record<string, string> {
  const { NODE_ENV } = process.env
  return NODE_ENV === undefined ? {} : { NODE_ENV }
}

/** Why the pool stopped an invocation before its result. */
export class InvocationStopped extends Error {
  /** `neighbour`: another invocation on its thread overran its timeout or was cancelled, and the thread was stopped. */
  constructor(readonly why: 'timeout' | 'cancel' | 'closing' | 'neighbour') {
    super(`the invocation was stopped (${why})`)
  }
}

/** The thread running the invocation ended: it exited, or failed (`cause`). */
export class WorkerEnded extends Error {
  constructor(message: string, readonly exitCode: number | undefined, options?: { cause: unknown }) {
    super(message, options)
  }
}

/** What the pool tells the caller of one invocation, as its worker reports it. */
export interface InvocationHandlers {
  /** A log line of the function. */
  log(level: LogLevel, args: unknown[]): void
  /** A call to the host (`ctx.publish`, `ctx.store.query`); its value or failure goes back to the function. */
  call(call: CallMessage): Promise<unknown>
}

interface Pending {
  task: WorkerTask
  handlers: InvocationHandlers
  timeout: number
  resolve(result: ResultMessage): void
  reject(err: Error): void
  thread: PoolThread | undefined
  timer: NodeJS.Timeout | undefined
  signal: AbortSignal | undefined
  onAbort: (() => void) | undefined
}

export interface WorkerPoolOptions {
  /** Most threads at once; default max(2, available CPUs). */
  size?: number | undefined
  log: Logger
}

/**
 * The threads that run local functions. A thread runs one function's
 * invocations at a time, as many at once as its `concurrency` allows (by
 * default one). Stopping an invocation that overruns its timeout means
 * terminating its thread: it takes with it only the invocations of the same
 * function running beside it (retryably), never another function's, and
 * one given to the thread and not begun goes to another. The timeout
 * starts when a thread begins the invocation, not while it waits.
 *
 * Written here rather than on piscina, which this replaced: piscina posts
 * each task, and takes each result back, as a message of its own, and an
 * invocation's calls to the host needed a MessageChannel of their own beside
 * it. Each message wakes the other thread, and a round trip cost about 40 µs
 * of CPU, most of an invocation. Here a turn's tasks, answers and results
 * travel together (batched-port.ts), and a thread keeps to one function
 * while it runs several of its invocations, which piscina's
 * concurrentTasksPerWorker does not.
 */
export class WorkerPool {
  readonly #size: number
  readonly #log: Logger
  readonly #threads = new Set<PoolThread>()
  readonly #queue: Pending[] = []
  readonly #pending = new IdMap<Pending>()
  readonly #retire: NodeJS.Timeout
  #nextId = 1
  #closing = false
  #stealCheck: NodeJS.Timeout | undefined

  constructor(options: WorkerPoolOptions) {
    if (!existsSync(WORKER_FILE)) {
      throw new Error(`the function worker ${WORKER_FILE} is missing; build Switchyard first (npm run build)`)
    }
    this.#size = Math.max(1, options.size ?? Math.max(2, availableParallelism()))
    this.#log = options.log
    this.#spawn()
    this.#retire = setInterval(() => this.#retireIdle(), IDLE_TIMEOUT / 3).unref()
  }

  get closing(): boolean {
    return this.#closing
  }

  /**
   * Runs `task` and resolves with the worker's result. Rejects with
   * InvocationStopped (its timeout, `signal`, or the pool closing),
   * WorkerEnded (its thread died under it), or a DataCloneError (an event
   * that cannot be sent to a thread).
   */
  run(task: Omit<WorkerTask, 'id'>, handlers: InvocationHandlers, options: { timeout: number; signal?: AbortSignal | undefined }): Promise<ResultMessage> {
    if (this.#closing) return Promise.reject(new InvocationStopped('closing'))
    return new Promise<ResultMessage>((resolve, reject) => {
      const id = this.#nextId++
      // Written out: `{ ...task, id }` took a slow path in V8, about 2 µs an invocation.
      const { owner, module, functionName, event, context, env, maxExternalMemory, concurrency } = task
      const full: WorkerTask = { id, owner, module, functionName, event, context, env, maxExternalMemory, concurrency }
      const p: Pending = { task: full, handlers, timeout: options.timeout, resolve, reject, thread: undefined, timer: undefined, signal: options.signal, onAbort: undefined }
      if (options.signal) {
        p.onAbort = () => this.#stop(p, 'cancel')
        options.signal.addEventListener('abort', p.onAbort, { once: true })
      }
      this.#pending.set(id, p)
      this.#queue.push(p)
      this.#assign()
    })
  }

  /** Refuses queued tasks, lets running ones finish for up to the close grace, then terminates every thread. */
  async close(): Promise<void> {
    if (this.#closing) return
    this.#closing = true
    clearInterval(this.#retire)
    clearTimeout(this.#stealCheck)
    for (const p of this.#queue.splice(0)) this.#settle(p, new InvocationStopped('closing'))
    for (const p of this.#pending.values()) if (p.thread && !p.thread.running.has(p.task.id)) p.thread.cancel(p.task.id)
    const deadline = Date.now() + CLOSE_GRACE
    while (this.#pending.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10))
    await Promise.all([...this.#threads].map((t) => t.terminate()))
  }

  #spawn(): PoolThread {
    const thread: PoolThread = new PoolThread({ file: WORKER_FILE, env: workerEnvironment(), maxHeapMb: WORKER_HEAP_MB }, {
      started: (id) => this.#started(thread, id),
      log: (id, level, args) => this.#pending.get(id)?.handlers.log(level, args),
      call: (id, call) => this.#call(thread, id, call),
      result: (message) => {
        const p = this.#pending.get(message.id)
        if (p) this.#settle(p, message)
        this.#assign()
      },
      dropped: (id) => {
        const p = this.#pending.get(id)
        if (!p) return
        p.thread = undefined
        if (this.#closing) this.#settle(p, new InvocationStopped('closing'))
        else this.#queue.unshift(p)
        this.#assign()
      },
      error: (err) => this.#failed(thread, err),
      exit: (code) => this.#exited(thread, code),
      unsendable: (id, err) => {
        const p = this.#pending.get(id)
        if (p) this.#settle(p, err instanceof Error ? err : new Error(String(err)))
      },
    })
    this.#threads.add(thread)
    return thread
  }

  /**
   * Gives waiting tasks to threads: one already running the function's
   * invocations while it has room, a free one, or a new one while the pool
   * has room. A task that fits nowhere waits; those behind it may fit.
   */
  #assign(): void {
    if (this.#closing) return
    for (let i = 0; i < this.#queue.length;) {
      const p = this.#queue[i]!
      const thread = this.#pickThread(p)
      if (!thread) {
        i++
        continue
      }
      this.#queue.splice(i, 1)
      p.thread = thread
      thread.give(p.task)
      if (thread.waiting > 0 && thread.running.size > 0) this.#scheduleStealCheck()
    }
  }

  #pickThread(p: Pending): PoolThread | undefined {
    const { concurrency, owner } = p.task
    let free: PoolThread | undefined
    let behind: PoolThread | undefined
    for (const t of this.#threads) {
      // One of the function's threads where it can begin at once.
      if (t.given.size > 0 && t.takes(owner, concurrency)) return t
      if (t.given.size === 0 && t.takes(owner, 1)) free ??= t
      else if (t.takes(owner, DEPTH * concurrency)) behind ??= t
    }
    if (free) return free
    if (this.#threads.size < this.#size) return this.#spawn()
    return behind
  }

  #started(thread: PoolThread, id: number): void {
    const p = this.#pending.get(id)
    // Begun after it was cancelled or timed out while waiting: stop it the only way there is.
    if (!p) {
      void thread.terminate()
      return
    }
    p.timer = setTimeout(() => this.#stop(p, 'timeout'), p.timeout)
    if (thread.waiting > 0) this.#scheduleStealCheck()
  }

  #call(thread: PoolThread, id: number, call: CallMessage): void {
    const p = this.#pending.get(id)
    if (!p) return
    p.handlers.call(call).then(
      (value) => thread.reply({ id, call: call.call, ok: true, value }),
      (err: unknown) => thread.reply({ id, call: call.call, ok: false, message: err instanceof Error ? err.message : String(err) }),
    )
  }

  /** Ends an invocation for `why`: one that runs takes its thread with it; one that waits is dropped. */
  #stop(p: Pending, why: InvocationStopped['why']): void {
    if (!this.#pending.has(p.task.id)) return
    const thread = p.thread
    // Its thread is already being stopped for another invocation: that, not this, ends it.
    const running = thread?.running.has(p.task.id) === true
    this.#settle(p, new InvocationStopped(running && thread?.stoppedFor ? 'neighbour' : why))
    if (!thread) {
      this.#queue.splice(this.#queue.indexOf(p), 1)
    } else if (running) {
      // The others running there end with it: say why.
      thread.stoppedFor ??= why
      void thread.terminate()
    } else {
      thread.cancel(p.task.id)
    }
  }

  #settle(p: Pending, outcome: ResultMessage | Error): void {
    if (!this.#pending.delete(p.task.id)) return
    clearTimeout(p.timer)
    if (p.onAbort) p.signal?.removeEventListener('abort', p.onAbort)
    if (outcome instanceof Error) p.reject(outcome)
    else p.resolve(outcome)
  }

  #failed(thread: PoolThread, err: unknown): void {
    const running = [...thread.running.keys()].map((id) => this.#pending.get(id)).filter((p) => p !== undefined)
    if (running.length > 0) {
      for (const p of running) this.#settle(p, new WorkerEnded(`the worker failed: ${(err as Error | undefined)?.message ?? String(err)}`, undefined, { cause: err }))
    } else if (this.#closing) {
      this.#log.debug({ err }, 'function workers did not finish in time; stopping them')
    } else {
      // A worker that dies between invocations (a function left a timer that throws).
      this.#log.warn({ err }, 'a function worker failed between invocations; it is replaced')
    }
  }

  #exited(thread: PoolThread, code: number): void {
    this.#threads.delete(thread)
    const orphans: Pending[] = []
    for (const id of thread.given) {
      const p = this.#pending.get(id)
      if (!p) continue
      if (thread.running.has(id)) {
        const why = this.#closing ? 'closing' : thread.stoppedFor ? 'neighbour' : undefined
        this.#settle(p, why ? new InvocationStopped(why) : new WorkerEnded(`the worker exited with code ${code}`, code))
      } else if (this.#closing) {
        this.#settle(p, new InvocationStopped('closing'))
      } else {
        p.thread = undefined
        orphans.push(p)
      }
    }
    if (this.#closing) return
    this.#queue.unshift(...orphans)
    if (this.#threads.size === 0) this.#spawn()
    this.#assign()
  }

  /** Moves tasks waiting behind a long invocation to threads that are free. */
  #scheduleStealCheck(): void {
    if (this.#stealCheck) return
    this.#stealCheck = setTimeout(() => {
      this.#stealCheck = undefined
      const now = performance.now()
      let free = this.#size - this.#threads.size
      for (const t of this.#threads) if (t.given.size === 0) free++
      let stillWaiting = false
      for (const t of this.#threads) {
        if (t.waiting === 0 || t.running.size === 0) continue
        const since = Math.max(...t.running.values())
        if (free > 0 && now - since >= STEAL_AFTER_MS) {
          for (const id of t.given) if (!t.running.has(id)) t.cancel(id)
          free--
        } else {
          stillWaiting = true
        }
      }
      if (stillWaiting) this.#scheduleStealCheck()
    }, STEAL_AFTER_MS).unref()
  }

  #retireIdle(): void {
    const now = performance.now()
    let left = this.#threads.size
    for (const t of this.#threads) {
      if (left <= 1) return
      if (t.given.size === 0 && !t.ended && now - t.idleSince >= IDLE_TIMEOUT) {
        left--
        void t.terminate()
      }
    }
  }
}
