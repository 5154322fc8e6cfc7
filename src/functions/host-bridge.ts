import type { Logger } from 'pino'
import type { EventQuery } from '../storage/event-log.js'
import { refusedPublishTopic } from '../topics/system-topics.js'
import type { FunctionHost, InvocationContext } from './function-target.js'
import type { CallMessage, LogLevel } from './protocol.js'
import type { InvocationHandlers } from './worker-pool.js'

export interface BridgeOptions {
  host: FunctionHost
  context: InvocationContext
  /** Whether the function's config lets `ctx.publish` reach `$` topics (`publishSystemTopics`). */
  publishSystemTopics: boolean
  /** The function's logger; made on the first line the function logs. */
  log: () => Logger
}

/**
 * The main thread's side of one invocation: serves the function's calls to
 * the host (publish, store queries) and writes its log lines. What crosses
 * from the worker is user code's doing, so it is checked here.
 */
export class HostBridge implements InvocationHandlers {
  #log: Logger | undefined

  constructor(private readonly options: BridgeOptions) {}

  log(level: LogLevel, args: unknown[]): void {
    this.#logLine(level, args)
  }

  call(call: CallMessage): Promise<unknown> {
    try {
      return this.#serve(call)
    } catch (err) {
      return Promise.reject(err instanceof Error ? err : new Error(String(err)))
    }
  }

  #logLine(level: string, args: unknown[]): void {
    if (level !== 'debug' && level !== 'info' && level !== 'warn' && level !== 'error') return
    this.#log ??= this.options.log()
    const write = this.#log[level] as (...line: unknown[]) => void
    write.apply(this.#log, args)
  }

  #serve(call: CallMessage): Promise<unknown> {
    if (call.op === 'publish') {
      const { topic, payload, qos, retain } = call
      // The worker runs user code: check what crosses before the broker sees it.
      if (typeof topic !== 'string' || !(payload instanceof Uint8Array) || (qos !== 0 && qos !== 1 && qos !== 2) || typeof retain !== 'boolean') {
        throw new Error('ctx.publish was called with a malformed message')
      }
      // As a republish: a topic name, never a filter, and a `$` topic only with consent.
      const refused = refusedPublishTopic(topic, this.options.publishSystemTopics, "publishSystemTopics: true to the function's config")
      if (refused) throw new Error(`ctx.publish: cannot publish to "${topic}": ${refused}`)
      const bytes = Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength)
      return this.options.host.publish(topic, bytes, { qos, retain }, this.options.context)
    }
    if (call.op === 'query') return this.options.host.queryStore(call.table, checkQuery(call.table, call.query))
    throw new Error('unknown call')
  }
}

function checkQuery(table: unknown, query: EventQuery | undefined): EventQuery {
  if (typeof table !== 'string' || table === '') throw new Error('ctx.store.query: table must be a non-empty string')
  const { key, since, until, limit } = query ?? {}
  if (key !== undefined && typeof key !== 'string') throw new Error('ctx.store.query: key must be a string')
  for (const [name, value] of [['since', since], ['until', until], ['limit', limit]] as const) {
    if (value !== undefined && (typeof value !== 'number' || !Number.isFinite(value))) {
      throw new Error(`ctx.store.query: ${name} must be a number`)
    }
  }
  return { key, since, until, limit }
}
