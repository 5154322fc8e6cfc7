import type { Logger } from 'pino'
import type { RetryPolicy } from '../retry.js'
import { ActionError } from '../errors.js'
import type { FunctionHost, FunctionTarget, InvocationContext } from './function-target.js'
import { HostBridge } from './host-bridge.js'
import type { ResultMessage } from './protocol.js'
import { InvocationStopped, WORKER_HEAP_MB, WorkerEnded, type WorkerPool } from './worker-pool.js'

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
  /** How many of its invocations one thread may run at once. */
  concurrency: number
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
  /** Who its invocations belong to, in the pool: a thread runs one owner's at a time, and holds its variables. */
  readonly #owner: string

  constructor(private readonly options: ModuleFunctionOptions) {
    this.name = options.name
    this.timeout = options.timeout
    this.retry = options.retry
    this.module = options.module
    this.#owner = `${options.name}\0${options.module}\0${JSON.stringify(options.env)}`
  }

  async invoke(event: unknown, context: InvocationContext, signal?: AbortSignal): Promise<unknown> {
    const { name, pool, host, log } = this.options
    if (signal?.aborted) throw new ActionError(`function ${name} was cancelled`, true)
    if (pool.closing) throw new ActionError(`function ${name} was not run: the function pool is closing`, true)

    const bridge = new HostBridge({
      host,
      context,
      publishSystemTopics: this.options.publishSystemTopics,
      log: () => log.child({ function: name, requestId: context.requestId }),
    })
    let outcome: ResultMessage
    try {
      outcome = await pool.run({
        owner: this.#owner,
        module: this.module,
        functionName: name,
        event,
        context: { clientId: context.clientId, topic: context.topic, rule: context.rule, requestId: context.requestId },
        env: this.options.env,
        maxExternalMemory: this.options.maxExternalMemory,
        concurrency: this.options.concurrency,
      }, bridge, { timeout: this.timeout, signal })
    } catch (err) {
      throw this.#poolFailure(err)
    }
    if (outcome.ok) return outcome.value
    throw this.#functionFailure(outcome)
  }

  /**
   * The function ran and failed: it threw, could not be loaded, returned
   * what cannot be sent, or its worker held too much memory outside the
   * heap (retryable: a fresh worker starts with none).
   */
  #functionFailure(outcome: Extract<ResultMessage, { ok: false }>): ActionError {
    const { name } = this.options
    switch (outcome.reason) {
      case 'threw': return new ActionError(`function ${name} threw: ${outcome.message}`, outcome.retryable ?? true)
      case 'load': return new ActionError(`function ${name} ${outcome.message}`, false)
      case 'no-handler': return new ActionError(`function ${name}: ${outcome.message}`, false)
      case 'result': return new ActionError(`function ${name} ${outcome.message}`, false)
      case 'memory': return new ActionError(`function ${name} ${outcome.message}: its worker was replaced`, true)
    }
  }

  /** The worker did not finish the task: stopped by the pool, or it died. */
  #poolFailure(err: unknown): ActionError {
    const { name, pool } = this.options
    const cause = { cause: err }
    if (err instanceof InvocationStopped) {
      if (err.why === 'timeout') return new ActionError(`function ${name} timed out after ${this.timeout} ms`, true, cause)
      if (err.why === 'cancel') return new ActionError(`function ${name} was cancelled`, true, cause)
      if (err.why === 'neighbour') return new ActionError(`function ${name} was stopped with its worker: another of its invocations running beside it overran its timeout or was cancelled`, true, cause)
      return new ActionError(`function ${name} was stopped: the function pool is closing`, true, cause)
    }
    if (pool.closing) return new ActionError(`function ${name} was stopped: the function pool is closing`, true, cause)
    const e = err as (Error & { code?: string }) | undefined
    if (e?.name === 'DataCloneError') {
      return new ActionError(`function ${name} was given an event that cannot be sent to a worker (${e.message})`, false, cause)
    }
    const failure = err instanceof WorkerEnded && err.cause !== undefined ? err.cause as (Error & { code?: string }) : e
    if (failure?.code === 'ERR_WORKER_OUT_OF_MEMORY') {
      return new ActionError(`function ${name} ran out of memory (a worker may use ${WORKER_HEAP_MB} MB)`, true, cause)
    }
    if (err instanceof WorkerEnded && err.exitCode !== undefined) return new ActionError(`function ${name} exited its worker (code ${err.exitCode})`, true, cause)
    return new ActionError(`function ${name} crashed its worker: ${failure?.message ?? String(err)}`, true, cause)
  }
}
