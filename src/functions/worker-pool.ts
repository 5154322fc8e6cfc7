import { existsSync } from 'node:fs'
import { availableParallelism } from 'node:os'
import { fileURLToPath } from 'node:url'
import type { Logger } from 'pino'
import { Piscina } from 'piscina'
import type { WorkerTask } from './protocol.js'

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

export interface WorkerPoolOptions {
  /** Most threads at once; default max(2, available CPUs). */
  size?: number | undefined
  log: Logger
}

/**
 * The threads that run local functions, one invocation per thread at a
 * time: stopping a function that overruns its timeout means terminating its
 * thread, and that must not take other invocations with it.
 */
export class WorkerPool {
  readonly #pool: Piscina<WorkerTask, void>
  #closing = false

  constructor(options: WorkerPoolOptions) {
    if (!existsSync(WORKER_FILE)) {
      throw new Error(`the function worker ${WORKER_FILE} is missing; build Switchyard first (npm run build)`)
    }
    const log = options.log
    this.#pool = new Piscina<WorkerTask, void>({
      filename: WORKER_FILE,
      minThreads: 1,
      maxThreads: options.size ?? Math.max(2, availableParallelism()),
      idleTimeout: IDLE_TIMEOUT,
      concurrentTasksPerWorker: 1,
      // With atomics, an idle worker blocks in Atomics.wait between tasks,
      // which freezes any timer or socket a function's module keeps open.
      atomics: 'disabled',
      resourceLimits: { maxOldGenerationSizeMb: WORKER_HEAP_MB },
      env: workerEnvironment(),
      closeTimeout: CLOSE_GRACE,
    })
    // A worker that dies between invocations (a function left a timer that
    // throws) is reported here; without a listener it would crash the broker.
    this.#pool.on('error', (err: unknown) => {
      if (this.#closing) log.debug({ err }, 'function workers did not finish in time; stopping them')
      else log.warn({ err }, 'a function worker failed between invocations; it is replaced')
    })
  }

  get closing(): boolean {
    return this.#closing
  }

  /**
   * Runs one task; `signal` aborts it (a running task's thread is terminated
   * and replaced). Rejects with piscina's error when the thread dies.
   */
  run(task: WorkerTask, signal: AbortSignal): Promise<void> {
    return this.#pool.run(task, { transferList: [task.port], signal })
  }

  /** Refuses queued tasks, lets running ones finish for up to the close grace, then terminates every thread. */
  async close(): Promise<void> {
    if (this.#closing) return
    this.#closing = true
    await this.#pool.close({ force: true })
  }
}
