/**
 * The worker-thread side of local functions: piscina loads this file in each
 * worker of the pool and calls the default export once per invocation. It
 * imports the function's module (once per worker), builds its `ctx`, runs it
 * and sends the result back over the invocation's channel.
 *
 * This file runs as plain JavaScript in a worker thread: it must import
 * nothing at run time but Node built-ins.
 */
import { pathToFileURL } from 'node:url'
import { inspect } from 'node:util'
import type { MessagePort, TransferListItem } from 'node:worker_threads'
import type { EventQuery, StoredEvent } from '../storage/event-log.js'
import type { FailureReason, HostReply, LogLevel, WorkerMessage, WorkerTask } from './protocol.js'

/** What a local function receives as its second argument. */
export interface FunctionContext {
  readonly functionName: string
  readonly clientId: string | undefined
  readonly topic: string
  readonly rule: string | undefined
  readonly requestId: string
  /** A pino-like logger; the main thread binds the function name and requestId. */
  readonly log: Record<LogLevel, (...args: unknown[]) => void>
  /** `payload`: a string, bytes, or any JSON value (sent JSON-encoded). */
  publish(topic: string, payload: unknown, options?: { qos?: 0 | 1 | 2; retain?: boolean }): Promise<void>
  readonly store: { query(table: string, query?: EventQuery): Promise<StoredEvent[]> }
}

type Handler = (event: unknown, ctx: FunctionContext) => unknown

class LoadError extends Error {
  constructor(message: string, readonly reason: FailureReason) {
    super(message)
  }
}

type Result = Extract<WorkerMessage, { type: 'result' }>

const handlers = new Map<string, Promise<Handler>>()

/**
 * How often a running invocation's memory outside the heap is measured
 * (process.memoryUsage() takes about 10 µs). Code that allocates without
 * yielding is measured when it yields or returns.
 */
const MEMORY_CHECK_MS = 100

/** Runs one invocation. Never throws for the function's own failures: they travel as a result. */
export default async function runInvocation(task: WorkerTask): Promise<void> {
  const channel = new HostChannel(task.port)
  channel.send({ type: 'start' })
  useEnvironment(task.env)
  const watch = setInterval(() => enforceMemoryLimit(task, channel), MEMORY_CHECK_MS)
  try {
    const result = await run(task, channel)
    enforceMemoryLimit(task, channel)
    try {
      channel.send(result)
    } catch (err) {
      // postMessage refuses what structured clone cannot copy (functions, symbols) before sending anything.
      channel.send({ type: 'result', ok: false, reason: 'result', message: `returned a result that cannot be sent back (${errorMessage(err)})` })
    }
  } finally {
    clearInterval(watch)
    channel.close()
  }
}

/** Loads and calls the function; its failures are a result, not a throw. */
async function run(task: WorkerTask, channel: HostChannel): Promise<Result> {
  let handler: Handler
  try {
    handler = await load(task.module)
  } catch (err) {
    const reason = err instanceof LoadError ? err.reason : 'load'
    return { type: 'result', ok: false, reason, message: errorMessage(err) }
  }
  let value: unknown
  try {
    value = await handler(task.event, makeContext(task, channel))
  } catch (err) {
    // A function may say that retrying cannot help by throwing an error with `retryable: false`.
    const retryable = (err as { retryable?: unknown } | null)?.retryable === false ? false : undefined
    return { type: 'result', ok: false, reason: 'threw', message: errorMessage(err), retryable }
  }
  // Results leave as JSON (the admin API, the http: entries), so one that
  // JSON cannot hold is the function's failure, here, and not a server
  // error later. Structured clone alone would let a BigInt or a cycle through.
  const notJson = jsonProblem(value)
  if (notJson !== undefined) return { type: 'result', ok: false, reason: 'result', message: `returned a result that is not JSON (${notJson})` }
  return { type: 'result', ok: true, value }
}

/**
 * What every function's `process.env` holds: the worker's own start-up
 * environment, which the pool strips to NODE_ENV (worker-pool.ts).
 */
const BASE_ENV = { ...process.env } as Readonly<Record<string, string>>

/**
 * Puts the invoked function's variables in force. Functions share the
 * workers, so each invocation starts from the base and adds its own: one
 * function's variables (or changes to process.env) do not reach the next.
 */
function useEnvironment(env: Readonly<Record<string, string>>): void {
  for (const name of Object.keys(process.env)) {
    if (!Object.hasOwn(env, name) && !Object.hasOwn(BASE_ENV, name)) delete process.env[name]
  }
  Object.assign(process.env, BASE_ENV, env)
}

/**
 * Buffers and ArrayBuffers live outside the V8 heap, where the pool's
 * `resourceLimits` do not reach: a function could hold gigabytes there.
 * `external` counts them (it includes `arrayBuffers`) for this thread
 * alone. Past the limit the invocation fails and the worker ends its own
 * thread, the one way to be sure the memory is freed (the pool starts a
 * fresh one). The result goes first, so the main thread can say why.
 */
function enforceMemoryLimit(task: WorkerTask, channel: HostChannel): void {
  const held = process.memoryUsage().external
  if (held <= task.maxExternalMemory) return
  const mb = (bytes: number) => Math.round(bytes / 1024 ** 2)
  channel.send({
    type: 'result',
    ok: false,
    reason: 'memory',
    message: `held ${mb(held)} MB outside its heap (Buffers, ArrayBuffers), more than its maxExternalMemory of ${mb(task.maxExternalMemory)} MB`,
  })
  process.exit(1)
}

function load(file: string): Promise<Handler> {
  let handler = handlers.get(file)
  if (!handler) {
    handler = importHandler(file)
    handlers.set(file, handler)
    // Forget a failure: the file may be fixed or deployed before the next try.
    handler.catch(() => handlers.delete(file))
  }
  return handler
}

async function importHandler(file: string): Promise<Handler> {
  let namespace: { default?: unknown }
  try {
    namespace = await import(pathToFileURL(file).href) as { default?: unknown }
  } catch (err) {
    const why = (err as NodeJS.ErrnoException).code === 'ERR_MODULE_NOT_FOUND' && (err as Error).message.includes(file)
      ? 'the file does not exist'
      : errorMessage(err)
    throw new LoadError(`could not load ${file}: ${why}`, 'load')
  }
  if (typeof namespace.default !== 'function') {
    throw new LoadError(`${file} has no default export that is a function; export default async (event, ctx) => result`, 'no-handler')
  }
  return namespace.default as Handler
}

function makeContext(task: WorkerTask, channel: HostChannel): FunctionContext {
  const logAt = (level: LogLevel) => (...args: unknown[]) => channel.log(level, args)
  return Object.freeze({
    functionName: task.functionName,
    clientId: task.context.clientId,
    topic: task.context.topic,
    rule: task.context.rule,
    requestId: task.context.requestId,
    log: Object.freeze({ debug: logAt('debug'), info: logAt('info'), warn: logAt('warn'), error: logAt('error') }),
    async publish(topic: string, payload: unknown, options: { qos?: 0 | 1 | 2; retain?: boolean } = {}): Promise<void> {
      if (typeof topic !== 'string' || topic === '') throw new TypeError('ctx.publish: topic must be a non-empty string')
      const qos = options.qos ?? 0
      if (qos !== 0 && qos !== 1 && qos !== 2) throw new TypeError('ctx.publish: qos must be 0, 1 or 2')
      const bytes = encode(payload)
      await channel.call({ op: 'publish', topic, payload: bytes, qos, retain: options.retain === true }, [bytes.buffer as ArrayBuffer])
    },
    store: Object.freeze({
      async query(table: string, query: EventQuery = {}): Promise<StoredEvent[]> {
        if (typeof table !== 'string' || table === '') throw new TypeError('ctx.store.query: table must be a non-empty string')
        const { key, since, until, limit } = query
        return await channel.call({ op: 'query', table, query: { key, since, until, limit } }) as StoredEvent[]
      },
    }),
  })
}

/** A fresh array of exactly the bytes, so that it can be transferred rather than copied. */
function encode(payload: unknown): Uint8Array {
  if (typeof payload === 'string') return new Uint8Array(Buffer.from(payload, 'utf8'))
  if (payload instanceof Uint8Array) return new Uint8Array(payload)
  const json = JSON.stringify(payload)
  if (json === undefined) throw new TypeError('ctx.publish: payload must be a string, bytes or a JSON value')
  return new Uint8Array(Buffer.from(json, 'utf8'))
}

type Call =
  | { op: 'publish'; topic: string; payload: Uint8Array; qos: number; retain: boolean }
  | { op: 'query'; table: string; query: EventQuery }

/** The worker's end of one invocation's channel: messages out, replies to calls in. */
class HostChannel {
  #nextId = 1
  readonly #pending = new Map<number, { resolve(value: unknown): void; reject(err: Error): void }>()
  #closed = false

  constructor(private readonly port: MessagePort) {
    port.on('message', (reply: HostReply) => {
      const pending = this.#pending.get(reply.id)
      if (!pending) return
      this.#pending.delete(reply.id)
      if (reply.ok) pending.resolve(reply.value)
      else pending.reject(new Error(reply.message))
    })
  }

  send(message: WorkerMessage, transfer?: TransferListItem[]): void {
    if (!this.#closed) this.port.postMessage(message, transfer)
  }

  call(call: Call, transfer?: TransferListItem[]): Promise<unknown> {
    if (this.#closed) return Promise.reject(new Error('the invocation has ended'))
    const id = this.#nextId++
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject })
      this.send({ type: 'call', id, ...call } as WorkerMessage, transfer)
    })
  }

  log(level: LogLevel, args: unknown[]): void {
    try {
      this.send({ type: 'log', level, args })
    } catch {
      // Something in the line cannot be cloned (a function, a socket): send it as text.
      this.send({ type: 'log', level, args: args.map((a) => (typeof a === 'string' ? a : inspect(a))) })
    }
  }

  /**
   * Messages already sent still arrive. Calls still waiting (a publish the
   * function did not await) are dropped, not rejected: a rejection nobody
   * handles would crash the worker after the invocation is over.
   */
  close(): void {
    this.#closed = true
    this.port.close()
    this.#pending.clear()
  }
}

/** Why JSON cannot hold `value` (a BigInt, a cycle, a toJSON that throws), or undefined when it can. */
function jsonProblem(value: unknown): string | undefined {
  try {
    JSON.stringify(value)
    return undefined
  } catch (err) {
    // V8 describes a cycle over several lines; the first says what it is.
    return errorMessage(err).split('\n')[0]
  }
}

function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message
  return typeof err === 'string' ? err : inspect(err)
}
