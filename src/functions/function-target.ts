import type { Lineage } from '../publisher/lineage.js'
import type { RetryPolicy } from '../retry.js'
import type { EventQuery, StoredEvent } from '../storage/event-log.js'

/** Who and what caused an invocation; a function sees these fields in its `ctx`. */
export interface InvocationContext {
  /** The MQTT client that published the triggering message, when there is one. */
  clientId: string | undefined
  /** The topic of the triggering message. */
  topic: string
  /** The rule that invoked the function, when a rule did. */
  rule: string | undefined
  /** Unique per invocation, and the same on every retry of one delivery. */
  requestId: string
  /**
   * The lineage of the delivery behind the invocation, which what the
   * function publishes continues; absent for a direct call. Kept in the
   * main thread: a function never sees it.
   */
  lineage?: Lineage | undefined
}

/** Publish options a function can give; both default to off. */
export interface PublishOptions {
  qos: 0 | 1 | 2
  retain: boolean
}

/**
 * What local functions may reach of the broker. Implemented in the main
 * thread, where the broker and the SQLite connection live; the worker pool
 * calls it over a message channel.
 */
export interface FunctionHost {
  /**
   * Publishes on behalf of the invocation described by `context` (so the host
   * can count hops and guard against loops). Rejects with a message the
   * function will see.
   */
  publish(topic: string, payload: Buffer, options: PublishOptions, context: InvocationContext): Promise<void>
  /** Stored events of `table`, newest first. */
  queryStore(table: string, query: EventQuery): Promise<StoredEvent[]>
}

/**
 * A named function, built from config: local code that runs in the worker
 * pool, or an HTTP endpoint. Building validated it; `invoke` only runs it.
 */
export interface FunctionTarget {
  readonly name: string
  readonly kind: 'module' | 'http'
  /** How long one invocation may run, in ms. */
  readonly timeout: number
  /** The function's own retry policy, when its config gives one. */
  readonly retry: RetryPolicy | undefined
  /**
   * Runs the function with `event` (the rule's SELECT output) and resolves
   * with its result. Rejects only with an `ActionError` that names the
   * function, says what happened and whether a retry can help. `signal`
   * cancels the invocation (a running local function's worker is stopped).
   */
  invoke(event: unknown, context: InvocationContext, signal?: AbortSignal): Promise<unknown>
}
