/**
 * The worker-thread side of local functions: each thread of the pool runs
 * this file. It takes tasks from the main thread in batches, runs them one
 * at a time in the order given, imports each function's module once, builds
 * its `ctx`, and sends the start, log lines, calls to the host and the
 * result of each invocation back, batched per turn (batched-port.ts).
 *
 * This file runs as plain JavaScript in a worker thread: at run time it
 * imports Node built-ins, batched-port.js and id-map.js alone, so that a
 * thread starts quickly and a function's code shares it with nothing else.
 */
import { getHeapStatistics } from 'node:v8'
import { pathToFileURL } from 'node:url'
import { inspect } from 'node:util'
import { parentPort } from 'node:worker_threads'
import type { EventQuery, StoredEvent } from '../storage/event-log.js'
import { IdMap } from '../id-map.js'
import { BatchedPort } from './batched-port.js'
import type { CallMessage, FailureReason, HostBatch, HostReply, LogLevel, ResultMessage, WorkerMessage, WorkerTask } from './protocol.js'

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

type Result = ResultMessage

const handlers = new Map<string, Promise<Handler>>()

/**
 * How often a running invocation's memory outside the heap is measured
 * (V8's heap statistics, about 3 µs). Code that allocates without yielding
 * is measured when it yields or returns.
 */
const MEMORY_CHECK_MS = 100

/** The invocation running now: its task and its calls waiting for an answer. */
interface Running {
  task: WorkerTask
  nextCall: number
  calls: Map<number, { resolve(value: unknown): void; reject(err: Error): void }>
}

const port = parentPort
if (!port) throw new Error('worker.js runs in a worker thread of the function pool')

const out = new BatchedPort<WorkerMessage>(port, (messages) => messages, unsendable)
const waiting: WorkerTask[] = []
/** The invocations running now, all of one function (`environmentOf`). */
const running = new IdMap<Running>()

port.on('message', (batch: HostBatch) => {
  if (batch.replies) for (const reply of batch.replies) answer(reply)
  if (batch.tasks) waiting.push(...batch.tasks)
  if (batch.cancel) for (const id of batch.cancel) drop(id)
  startWaiting()
})

/** Takes a task out of those waiting, and says so; one already begun is not the worker's to drop. */
function drop(id: number): void {
  const at = waiting.findIndex((t) => t.id === id)
  if (at === -1) return
  waiting.splice(at, 1)
  out.send({ type: 'dropped', id })
}

setInterval(() => {
  const first = running.values().next().value
  if (first) enforceMemoryLimit(first.task)
}, MEMORY_CHECK_MS)

/**
 * Begins the tasks given, in order, while their function's `concurrency`
 * allows; one of another function waits until this one's have returned.
 */
function startWaiting(): void {
  let started = false
  for (let task = waiting[0]; task; task = waiting[0]) {
    if (running.size >= task.concurrency) break
    if (running.size > 0 && task.owner !== environmentOf) break
    waiting.shift()
    useEnvironment(task)
    const invocation: Running = { task, nextCall: 1, calls: new Map() }
    running.set(task.id, invocation)
    out.send({ type: 'start', id: task.id })
    started = true
    void finish(invocation)
  }
  // Sent at once, with the results before them: the main thread must know
  // a task began even if the function ends the thread at its first line.
  if (started) out.flush()
}

async function finish(invocation: Running): Promise<void> {
  const result = await run(invocation.task, invocation)
  enforceMemoryLimit(invocation.task)
  // Calls still waiting (a publish the function did not await) are dropped,
  // not rejected: a rejection nobody handles would crash the worker.
  running.delete(invocation.task.id)
  out.send(result)
  startWaiting()
}

/** What to send instead of a message that cannot be copied to the main thread. */
function unsendable(message: WorkerMessage, err: unknown): WorkerMessage | undefined {
  switch (message.type) {
    // postMessage refuses what structured clone cannot copy (functions, symbols).
    case 'result': return { type: 'result', id: message.id, ok: false, reason: 'result', message: `returned a result that cannot be sent back (${errorMessage(err)})` }
    // Something in the line cannot be cloned (a function, a socket): send it as text.
    case 'log': return { ...message, args: message.args.map((a) => (typeof a === 'string' ? a : inspect(a))) }
    case 'call':
      running.get(message.id)?.calls.get(message.call)?.reject(err instanceof Error ? err : new Error(String(err)))
      return undefined
    default: return undefined
  }
}

function answer(reply: HostReply): void {
  const invocation = running.get(reply.id)
  const pending = invocation?.calls.get(reply.call)
  if (!pending) return
  invocation!.calls.delete(reply.call)
  if (reply.ok) pending.resolve(reply.value)
  else pending.reject(new Error(reply.message))
}

/** Loads and calls the function; its failures are a result, not a throw. */
async function run(task: WorkerTask, invocation: Running): Promise<Result> {
  let handler: Handler
  try {
    handler = await load(task.module)
  } catch (err) {
    const reason = err instanceof LoadError ? err.reason : 'load'
    return { type: 'result', id: task.id, ok: false, reason, message: errorMessage(err) }
  }
  let value: unknown
  try {
    value = await handler(task.event, makeContext(invocation))
  } catch (err) {
    // A function may say that retrying cannot help by throwing an error with `retryable: false`.
    const retryable = (err as { retryable?: unknown } | null)?.retryable === false ? false : undefined
    return { type: 'result', id: task.id, ok: false, reason: 'threw', message: errorMessage(err), retryable }
  }
  // Results leave as JSON (the admin API, the http: entries), so one that
  // JSON cannot hold is the function's failure, here, and not a server
  // error later. Structured clone alone would let a BigInt or a cycle through.
  const notJson = jsonProblem(value)
  if (notJson !== undefined) return { type: 'result', id: task.id, ok: false, reason: 'result', message: `returned a result that is not JSON (${notJson})` }
  return { type: 'result', id: task.id, ok: true, value }
}

/**
 * What every function's `process.env` holds: the worker's own start-up
 * environment, which the pool strips to NODE_ENV (worker-pool.ts).
 */
const BASE_ENV = { ...process.env } as Readonly<Record<string, string>>

/** The function whose variables are in force, and what its config gave it. */
let environmentOf: string | undefined

/**
 * Puts the invoked function's variables in force. Functions share the
 * workers, so a function's invocation starts from the base and adds its
 * own: one function's variables (or its changes to process.env) do not
 * reach another's invocations. While one function's invocations follow each
 * other on a thread they keep its environment, as they keep its module.
 */
function useEnvironment(task: WorkerTask): void {
  if (task.owner === environmentOf) return
  environmentOf = task.owner
  const env = task.env
  for (const name of Object.keys(process.env)) {
    if (!Object.hasOwn(env, name) && !Object.hasOwn(BASE_ENV, name)) delete process.env[name]
  }
  Object.assign(process.env, BASE_ENV, env)
}

/**
 * Buffers and ArrayBuffers live outside the V8 heap, where the pool's
 * `resourceLimits` do not reach: a function could hold gigabytes there.
 * V8's external memory counts them (process.memoryUsage().external) for this thread
 * alone. Past the limit the invocation fails and the worker ends its own
 * thread, the one way to be sure the memory is freed (the pool starts a
 * fresh one). The result goes first, so the main thread can say why.
 */
function enforceMemoryLimit(task: WorkerTask): void {
  const held = getHeapStatistics().external_memory
  if (held <= task.maxExternalMemory) return
  const mb = (bytes: number) => Math.round(bytes / 1024 ** 2)
  const message = `held ${mb(held)} MB outside its heap (Buffers, ArrayBuffers), more than its maxExternalMemory of ${mb(task.maxExternalMemory)} MB`
  // Every invocation running here shares the memory and the thread's end.
  for (const id of new Set([task.id, ...running.keys()])) out.send({ type: 'result', id, ok: false, reason: 'memory', message })
  out.flush()
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

function makeContext(invocation: Running): FunctionContext {
  const { task } = invocation
  const logAt = (level: LogLevel) => (...args: unknown[]) => {
    // A line logged after the invocation ended has nobody to be bound to.
    if (running.get(task.id) === invocation) out.send({ type: 'log', id: task.id, level, args })
  }
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
      await call(invocation, { op: 'publish', topic, payload: bytes, qos, retain: options.retain === true }, bytes.buffer as ArrayBuffer)
    },
    store: Object.freeze({
      async query(table: string, query: EventQuery = {}): Promise<StoredEvent[]> {
        if (typeof table !== 'string' || table === '') throw new TypeError('ctx.store.query: table must be a non-empty string')
        const { key, since, until, limit } = query
        return await call(invocation, { op: 'query', table, query: { key, since, until, limit } }) as StoredEvent[]
      },
    }),
  })
}

type Call = DistributiveOmit<CallMessage, 'type' | 'id' | 'call'>
type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never

/** Asks the host; the answer comes in a later batch (`answer`). */
function call(invocation: Running, request: Call, transfer?: ArrayBuffer): Promise<unknown> {
  if (running.get(invocation.task.id) !== invocation) return Promise.reject(new Error('the invocation has ended'))
  const id = invocation.nextCall++
  return new Promise((resolve, reject) => {
    invocation.calls.set(id, { resolve, reject })
    out.send({ type: 'call', id: invocation.task.id, call: id, ...request } as CallMessage, transfer ? [transfer] : undefined)
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
