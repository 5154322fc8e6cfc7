import type { Logger } from 'pino'
import type { RetryPolicy } from '../retry.js'
import { ActionError } from '../errors.js'
import type { FunctionHost, FunctionTarget, InvocationContext } from './function-target.js'
import { HostBridge, type WorkerOutcome } from './host-bridge.js'
import { WORKER_HEAP_MB, type WorkerPool } from './worker-pool.js'

export interface ModuleFunctionOptions {
  name: string
  /** Absolute path of the module. */
  module: string
  timeout: number
  retry: RetryPolicy | undefined
  /** Whether `ctx.publish` may reach `$` topics. */
  publishSystemTopics: boolean
  /** The variables of its `process.env`, besides NODE_ENV. */
  env: Readonly<Record<string, string>>
  /** Bytes its worker may hold outside the V8 heap. */
  maxExternalMemory: number
  pool: WorkerPool
  host: FunctionHost
  log: Logger
}

/**
 * A function whose code runs in the worker pool. The timeout starts when a
 * worker takes the invocation, not while it waits in the queue; past it, the
 * worker is terminated and replaced.
 */
export class ModuleFunction implements FunctionTarget {
  readonly kind = 'module'
  readonly name: string
  readonly timeout: number
  readonly retry: RetryPolicy | undefined
  readonly module: string

  constructor(private readonly options: ModuleFunctionOptions) {
    this.name = options.name
    this.timeout = options.timeout
    this.retry = options.retry
    this.module = options.module
  }

  async invoke(event: unknown, context: InvocationContext, signal?: AbortSignal): Promise<unknown> {
    const { name, pool, host, log } = this.options
    if (signal?.aborted) throw new ActionError(`function ${name} was cancelled`, true)
    if (pool.closing) throw new ActionError(`function ${name} was not run: the function pool is closing`, true)

    const stop = new AbortController()
    let stoppedBy: 'timeout' | 'cancel' | undefined
    let timer: NodeJS.Timeout | undefined
    let finished = false
    const bridge = new HostBridge({
      host,
      context,
      publishSystemTopics: this.options.publishSystemTopics,
      log: () => log.child({ function: name, requestId: context.requestId }),
      onStart: () => {
        if (finished) return
        timer = setTimeout(() => {
          stoppedBy = 'timeout'
          stop.abort()
        }, this.timeout)
      },
      // Stop the clock as soon as the result is in, so that it cannot run
      // out in the moment before the pool also reports the task done.
      onResult: () => clearTimeout(timer),
    })
    const cancel = () => {
      stoppedBy ??= 'cancel'
      stop.abort()
    }
    signal?.addEventListener('abort', cancel, { once: true })

    let outcome: WorkerOutcome
    try {
      await pool.run({
        module: this.module,
        functionName: name,
        event,
        context: { clientId: context.clientId, topic: context.topic, rule: context.rule, requestId: context.requestId },
        env: this.options.env,
        maxExternalMemory: this.options.maxExternalMemory,
        port: bridge.workerPort,
      }, stop.signal)
      // Posted before the task returned, so it is here or on its way.
      outcome = await bridge.outcome
    } catch (err) {
      // A worker that ended its own thread said why just before: read it now, before the channel closes.
      bridge.drain()
      const last = bridge.result
      if (last && !last.ok && last.reason === 'memory') throw this.#functionFailure(last, { cause: err })
      throw this.#poolFailure(err, stoppedBy)
    } finally {
      finished = true
      clearTimeout(timer)
      signal?.removeEventListener('abort', cancel)
      bridge.close()
    }
    if (outcome.ok) return outcome.value
    throw this.#functionFailure(outcome)
  }

  /**
   * The function ran and failed: it threw, could not be loaded, returned
   * what cannot be sent, or its worker held too much memory outside the
   * heap (retryable: a fresh worker starts with none).
   */
  #functionFailure(outcome: Extract<WorkerOutcome, { ok: false }>, options?: { cause: unknown }): ActionError {
    const { name } = this.options
    switch (outcome.reason) {
      case 'threw': return new ActionError(`function ${name} threw: ${outcome.message}`, outcome.retryable ?? true)
      case 'load': return new ActionError(`function ${name} ${outcome.message}`, false)
      case 'no-handler': return new ActionError(`function ${name}: ${outcome.message}`, false)
      case 'result': return new ActionError(`function ${name} ${outcome.message}`, false)
      case 'memory': return new ActionError(`function ${name} ${outcome.message}: its worker was replaced`, true, options)
    }
  }

  /** The worker did not finish the task: stopped by us, or it died. */
  #poolFailure(err: unknown, stoppedBy: 'timeout' | 'cancel' | undefined): ActionError {
    const { name, pool } = this.options
    const cause = { cause: err }
    if (stoppedBy === 'timeout') return new ActionError(`function ${name} timed out after ${this.timeout} ms`, true, cause)
    if (stoppedBy === 'cancel') return new ActionError(`function ${name} was cancelled`, true, cause)
    if (pool.closing) return new ActionError(`function ${name} was stopped: the function pool is closing`, true, cause)
    const e = err as (Error & { code?: string }) | undefined
    if (e?.name === 'DataCloneError') {
      return new ActionError(`function ${name} was given an event that cannot be sent to a worker (${e.message})`, false, cause)
    }
    if (e?.code === 'ERR_WORKER_OUT_OF_MEMORY') {
      return new ActionError(`function ${name} ran out of memory (a worker may use ${WORKER_HEAP_MB} MB)`, true, cause)
    }
    // piscina's words for a thread that ended under a running task.
    const exit = /worker exited with code: (-?\d+)/.exec(e?.message ?? '')
    if (exit) return new ActionError(`function ${name} exited its worker (code ${exit[1]})`, true, cause)
    return new ActionError(`function ${name} crashed its worker: ${e?.message ?? String(err)}`, true, cause)
  }
}
