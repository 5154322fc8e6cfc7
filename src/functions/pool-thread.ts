import { Worker } from 'node:worker_threads'
import { IdMap, IdSet } from '../id-map.js'
import { BatchedPort } from './batched-port.js'
import type { CallMessage, HostBatch, HostReply, LogLevel, ResultMessage, WorkerMessage, WorkerTask } from './protocol.js'

/** What the pool is told of the tasks a thread was given. */
export interface ThreadEvents {
  started(id: number): void
  log(id: number, level: LogLevel, args: unknown[]): void
  call(id: number, call: CallMessage): void
  result(message: ResultMessage): void
  /** The worker dropped a task it had not begun (see `cancel`). */
  dropped(id: number): void
  /** The thread failed (an uncaught error, its heap limit); `exit` follows. */
  error(err: unknown): void
  exit(code: number): void
  /** A task could not be sent: structured clone cannot copy its event. */
  unsendable(id: number, err: unknown): void
}

export interface ThreadOptions {
  file: string
  env: Record<string, string>
  maxHeapMb: number
}

type Outgoing = { task: WorkerTask } | { reply: HostReply } | { cancel: number }

/**
 * One worker thread of the pool and what it was given: the task it runs
 * (at most one at a time) and those waiting behind it, in order. Tasks,
 * answers and cancellations to it leave in one message per turn.
 */
export class PoolThread {
  readonly #worker: Worker
  readonly #out: BatchedPort<Outgoing>
  /** The tasks given and not finished, by id: the order in which the pool took them in. */
  readonly given = new IdSet()
  /** Those of them that began, with when (performance.now()). */
  readonly running = new IdMap<number>()
  /** The function whose tasks it was given (one at a time); undefined when it holds none. */
  owner: string | undefined
  /** Why it is being terminated, when an invocation's timeout or cancellation stopped it. */
  stoppedFor: string | undefined
  /** When it last finished a task: an idle thread retires after a while. */
  idleSince = performance.now()
  #ended = false

  constructor(options: ThreadOptions, events: ThreadEvents) {
    this.#worker = new Worker(options.file, {
      env: options.env,
      resourceLimits: { maxOldGenerationSizeMb: options.maxHeapMb },
    })
    this.#out = new BatchedPort<Outgoing>(this.#worker, batchOf, (message, err) => {
      if ('task' in message) {
        this.#forget(message.task.id)
        events.unsendable(message.task.id, err)
      }
      if ('reply' in message) return { reply: { id: message.reply.id, call: message.reply.call, ok: false, message: `the answer cannot be sent to the worker (${(err as Error).message})` } }
      return undefined
    })
    this.#worker.on('message', (batch: WorkerMessage[]) => {
      for (const message of batch) {
        switch (message.type) {
          case 'start':
            this.running.set(message.id, performance.now())
            events.started(message.id)
            break
          case 'log': events.log(message.id, message.level, message.args); break
          case 'call': events.call(message.id, message); break
          case 'result':
            this.#forget(message.id)
            events.result(message)
            break
          case 'dropped':
            this.#forget(message.id)
            events.dropped(message.id)
            break
        }
      }
    })
    this.#worker.on('error', (err) => events.error(err))
    this.#worker.on('exit', (code) => {
      this.#ended = true
      this.#out.close()
      events.exit(code)
    })
  }

  get ended(): boolean {
    return this.#ended
  }

  /** Tasks given that have not begun. */
  get waiting(): number {
    return this.given.size - this.running.size
  }

  /** Whether it can take a task of `owner` now: it holds none, or fewer than `room` of that function's. */
  takes(owner: string, room: number): boolean {
    return !this.#ended && (this.given.size === 0 || (this.owner === owner && this.given.size < room))
  }

  give(task: WorkerTask): void {
    this.owner = task.owner
    this.given.add(task.id)
    this.#out.send({ task })
  }

  #forget(id: number): void {
    this.given.delete(id)
    this.running.delete(id)
    if (this.given.size === 0) {
      this.owner = undefined
      this.idleSince = performance.now()
    }
  }

  reply(reply: HostReply): void {
    this.#out.send({ reply })
  }

  /** Asks the worker not to begin `id`; it answers `dropped` if it had not. */
  cancel(id: number): void {
    this.#out.send({ cancel: id })
  }

  /** Stops the thread now, whatever it runs; `exit` follows. */
  terminate(): Promise<number> {
    this.#out.close()
    return this.#worker.terminate()
  }
}

function batchOf(messages: Outgoing[]): HostBatch {
  const batch: HostBatch = {}
  for (const m of messages) {
    if ('task' in m) (batch.tasks ??= []).push(m.task)
    else if ('reply' in m) (batch.replies ??= []).push(m.reply)
    else (batch.cancel ??= []).push(m.cancel)
  }
  return batch
}
