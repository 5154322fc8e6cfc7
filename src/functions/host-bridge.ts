import { MessageChannel, receiveMessageOnPort, type MessagePort } from 'node:worker_threads'
import type { Logger } from 'pino'
import type { EventQuery } from '../storage/event-log.js'
import { refusedPublishTopic } from '../topics/system-topics.js'
import type { FunctionHost, InvocationContext } from './function-target.js'
import type { HostReply, WorkerMessage } from './protocol.js'

/** What the worker reported at the end of an invocation. */
export type WorkerOutcome = Extract<WorkerMessage, { type: 'result' }>

export interface BridgeOptions {
  host: FunctionHost
  context: InvocationContext
  /** Whether the function's config lets `ctx.publish` reach `$` topics (`publishSystemTopics`). */
  publishSystemTopics: boolean
  /** The function's logger; made on the first line the function logs. */
  log: () => Logger
  /** The worker took the task. */
  onStart(): void
  /** The worker sent its result (called before `outcome` resolves). */
  onResult(outcome: WorkerOutcome): void
}

/**
 * The main thread's end of one invocation's channel: serves the function's
 * calls to the host (publish, store queries) and its log lines, and receives
 * its result. The worker gets `workerPort`, transferred with the task.
 */
export class HostBridge {
  readonly workerPort: MessagePort
  /** Resolves when the worker sends its result; never rejects. */
  readonly outcome: Promise<WorkerOutcome>
  readonly #port: MessagePort
  readonly #settle: (outcome: WorkerOutcome) => void
  #result: WorkerOutcome | undefined
  #log: Logger | undefined

  constructor(private readonly options: BridgeOptions) {
    const { port1, port2 } = new MessageChannel()
    this.#port = port1
    this.workerPort = port2
    let settle!: (outcome: WorkerOutcome) => void
    this.outcome = new Promise((resolve) => { settle = resolve })
    this.#settle = settle
    port1.on('message', (message: WorkerMessage) => this.#handle(message))
  }

  /** The result the worker sent, once it has been read. */
  get result(): WorkerOutcome | undefined {
    return this.#result
  }

  /**
   * Reads at once what the worker sent before its thread ended and this
   * side has not handled yet. A worker that ends its own thread (worker.ts,
   * past its memory limit) sends its result first, and the pool may report
   * the ended thread before the port delivers that message. Calls are left
   * undone, as they would be had the thread ended a moment sooner: nobody
   * awaits their answer.
   */
  drain(): void {
    for (let next = receiveMessageOnPort(this.#port); next; next = receiveMessageOnPort(this.#port)) {
      const message = next.message as WorkerMessage
      if (message.type !== 'call') this.#handle(message)
    }
  }

  /** Stops serving; calls the worker makes after this get no answer. */
  close(): void {
    this.#port.close()
  }

  #handle(message: WorkerMessage): void {
    switch (message.type) {
      case 'start': this.options.onStart(); break
      case 'log': this.#logLine(message.level, message.args); break
      case 'call': this.#serve(message); break
      case 'result':
        this.#result ??= message
        this.options.onResult(message)
        this.#settle(message)
        break
    }
  }

  #logLine(level: string, args: unknown[]): void {
    if (level !== 'debug' && level !== 'info' && level !== 'warn' && level !== 'error') return
    this.#log ??= this.options.log()
    const write = this.#log[level] as (...line: unknown[]) => void
    write.apply(this.#log, args)
  }

  #serve(call: Extract<WorkerMessage, { type: 'call' }>): void {
    const reply = (answer: HostReply) => this.#port.postMessage(answer)
    const fail = (err: unknown) => reply({ type: 'reply', id: call.id, ok: false, message: err instanceof Error ? err.message : String(err) })
    try {
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
        this.options.host.publish(topic, bytes, { qos, retain }, this.options.context)
          .then(() => reply({ type: 'reply', id: call.id, ok: true, value: undefined }), fail)
      } else if (call.op === 'query') {
        this.options.host.queryStore(call.table, checkQuery(call.table, call.query))
          .then((events) => reply({ type: 'reply', id: call.id, ok: true, value: events }), fail)
      } else {
        throw new Error('unknown call')
      }
    } catch (err) {
      fail(err)
    }
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
