import type { TransferListItem } from 'node:worker_threads'

/** What a batch's messages are sent through: a worker's `parentPort`, or the `Worker` itself. */
export interface PostTarget {
  postMessage(value: unknown, transferList?: readonly TransferListItem[]): void
}

/**
 * Collects what one turn of the event loop sends to the other thread and
 * posts it as one message at the end of the turn (in an immediate). Each
 * post wakes the other thread; at thousands of invocations a second that
 * wake-up, not the copying, was the cost (postMessage was a quarter of the
 * main thread's time with a channel and five messages per invocation).
 *
 * A message that structured clone cannot copy (a function, a symbol) makes
 * the whole post throw before anything is sent; the batch is then sent one
 * message at a time, in order, and `unsendable` says what to send instead
 * of the one that failed (or nothing).
 */
export class BatchedPort<M> {
  #messages: M[] = []
  #transfer: TransferListItem[] = []
  #scheduled = false
  #closed = false

  constructor(
    private readonly port: PostTarget,
    private readonly wrap: (messages: M[]) => unknown,
    private readonly unsendable: (message: M, err: unknown) => M | undefined,
  ) {}

  send(message: M, transfer?: readonly TransferListItem[]): void {
    if (this.#closed) return
    this.#messages.push(message)
    if (transfer) this.#transfer.push(...transfer)
    if (!this.#scheduled) {
      this.#scheduled = true
      setImmediate(() => this.flush())
    }
  }

  /** Posts what waits now. */
  flush(): void {
    this.#scheduled = false
    const messages = this.#messages
    if (messages.length === 0 || this.#closed) return
    const transfer = this.#transfer
    this.#messages = []
    this.#transfer = []
    try {
      this.port.postMessage(this.wrap(messages), transfer)
    } catch (err) {
      if ((err as Error | undefined)?.name !== 'DataCloneError') throw err
      this.#oneByOne(messages, transfer)
    }
  }

  /** Stops sending; what waits is dropped. */
  close(): void {
    this.#closed = true
    this.#messages = []
    this.#transfer = []
  }

  #oneByOne(messages: readonly M[], transfer: readonly TransferListItem[]): void {
    for (const message of messages) {
      // A transferable of this message is found in the list by identity; the rest are moved with the others' messages only.
      const own = transfer.filter((t) => holds(message, t))
      try {
        this.port.postMessage(this.wrap([message]), own)
      } catch (err) {
        if ((err as Error | undefined)?.name !== 'DataCloneError') throw err
        const instead = this.unsendable(message, err)
        if (instead !== undefined) this.port.postMessage(this.wrap([instead]))
      }
    }
  }
}

/** Whether `transferable` is one of `message`'s own property values' buffers (the payload of a call). */
function holds(message: unknown, transferable: TransferListItem): boolean {
  if (typeof message !== 'object' || message === null) return false
  for (const value of Object.values(message)) {
    if (value === transferable || (value instanceof Uint8Array && value.buffer === transferable)) return true
  }
  return false
}
