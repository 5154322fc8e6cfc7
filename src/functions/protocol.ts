import type { MessagePort } from 'node:worker_threads'
import type { EventQuery } from '../storage/event-log.js'

/**
 * The messages between the main thread and a worker running one invocation.
 * The pool carries the task in; everything after that (the start signal, log
 * lines, calls to the host, the result) goes over a MessageChannel made for
 * the invocation, so that it all arrives in the order it was sent.
 */

/** What the pool hands the worker. */
export interface WorkerTask {
  /** Absolute path of the function's module. */
  module: string
  functionName: string
  event: unknown
  context: { clientId: string | undefined; topic: string; rule: string | undefined; requestId: string }
  /** The function's own variables, which its `process.env` holds besides the worker's NODE_ENV. */
  env: Readonly<Record<string, string>>
  /** Bytes the worker may hold outside the V8 heap (Buffers, ArrayBuffers) while and after the function runs. */
  maxExternalMemory: number
  /** The worker's end of the invocation's channel (transferred). */
  port: MessagePort
}

export type LogLevel = 'debug' | 'info' | 'warn' | 'error'

/**
 * Why an invocation failed inside the worker. After `memory` the worker
 * ends its own thread: the memory is the worker's, not the invocation's.
 */
export type FailureReason = 'load' | 'no-handler' | 'threw' | 'result' | 'memory'

/** Worker → main. */
export type WorkerMessage =
  /** The worker has the task: the timeout starts now, not while the task waits in the queue. */
  | { type: 'start' }
  | { type: 'log'; level: LogLevel; args: unknown[] }
  | { type: 'call'; id: number; op: 'publish'; topic: string; payload: Uint8Array; qos: number; retain: boolean }
  | { type: 'call'; id: number; op: 'query'; table: string; query: EventQuery }
  | { type: 'result'; ok: true; value: unknown }
  | { type: 'result'; ok: false; reason: FailureReason; message: string; retryable?: boolean | undefined }

/** Main → worker: the answer to a `call`. */
export type HostReply =
  | { type: 'reply'; id: number; ok: true; value: unknown }
  | { type: 'reply'; id: number; ok: false; message: string }
