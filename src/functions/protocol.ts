import type { EventQuery } from '../storage/event-log.js'

/**
 * The messages between the main thread and a worker thread. Each worker has
 * one channel (its `parentPort`) for its whole life, and both ends send what
 * one turn of their event loop produced as one batch: at a high rate a
 * batch carries the results of several invocations, the answers to their
 * calls and the next tasks, where a channel and a message per event cost a
 * thread wake-up each. Within a batch, and from batch to batch, messages
 * keep the order they were sent in.
 */

/** One invocation, as the worker runs it. */
export interface WorkerTask {
  /** Names the invocation in every message about it. */
  id: number
  /** Absolute path of the function's module. */
  module: string
  functionName: string
  event: unknown
  context: { clientId: string | undefined; topic: string; rule: string | undefined; requestId: string }
  /** The function's own variables, which its `process.env` holds besides the worker's NODE_ENV. */
  env: Readonly<Record<string, string>>
  /** Bytes the worker may hold outside the V8 heap (Buffers, ArrayBuffers) while and after the function runs. */
  maxExternalMemory: number
  /** How many of this function's invocations the thread may run at once (its config's `concurrency`). */
  concurrency: number
  /** Whose invocation it is: the function, its module and its variables, as one string. A thread runs one owner's at a time. */
  owner: string
}

/** Main → worker. */
export interface HostBatch {
  /**
   * Tasks to run in this order after those already given, up to their
   * function's `concurrency` at once; a thread runs one function's
   * invocations at a time (the main thread gives it no other meanwhile).
   */
  tasks?: WorkerTask[]
  /** Answers to calls. */
  replies?: HostReply[]
  /**
   * Tasks given earlier that should not start here: cancelled, or to be run
   * by a thread that is free. The worker answers `dropped` for each one it
   * had not begun.
   */
  cancel?: number[]
}

export type LogLevel = 'debug' | 'info' | 'warn' | 'error'

/**
 * Why an invocation failed inside the worker. After `memory` the worker
 * ends its own thread: the memory is the worker's, not the invocation's.
 */
export type FailureReason = 'load' | 'no-handler' | 'threw' | 'result' | 'memory'

export type CallMessage =
  | { type: 'call'; id: number; call: number; op: 'publish'; topic: string; payload: Uint8Array; qos: number; retain: boolean }
  | { type: 'call'; id: number; call: number; op: 'query'; table: string; query: EventQuery }

export type ResultMessage =
  | { type: 'result'; id: number; ok: true; value: unknown }
  | { type: 'result'; id: number; ok: false; reason: FailureReason; message: string; retryable?: boolean | undefined }

/** Worker → main, about invocation `id`; a batch is an array of them. */
export type WorkerMessage =
  /** The worker has begun the task: its timeout starts now, not while it waited. */
  | { type: 'start'; id: number }
  /** The worker will not run the task: it was asked to drop it before it began. */
  | { type: 'dropped'; id: number }
  | { type: 'log'; id: number; level: LogLevel; args: unknown[] }
  | CallMessage
  | ResultMessage

/** The answer to call `call` of invocation `id`. */
export type HostReply =
  | { id: number; call: number; ok: true; value: unknown }
  | { id: number; call: number; ok: false; message: string }
