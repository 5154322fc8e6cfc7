/** What HashGate.run gives instead of a result when there is no room to wait. */
export const BUSY: unique symbol = Symbol('busy')

/**
 * At most `concurrency` password hashes at once, and at most `queueSize`
 * checks waiting for one. A scrypt holds 32 MB and a core for some 80 ms;
 * Node runs them on libuv's four threads, so 300 at once held 128 MB and
 * made the 300th wait 19 s. Past the queue a check is not started at all:
 * holding the connection would only hold its memory too.
 *
 * The queue takes turns between sources (client addresses): a source with
 * many checks waiting gets one hash, then the next source does. A client
 * arriving during a flood from elsewhere waits for the hashes under way and
 * at most one of the flood's, not for the flood.
 */
export class HashGate {
  /** Waiting checks by source, in the order of their turns (a Map iterates in insertion order). */
  readonly #waiting = new Map<string, Array<() => void>>()
  #queued = 0
  #running = 0

  constructor(private readonly concurrency: number, private readonly queueSize: number) {}

  /** Runs `task` when a hash may start; BUSY at once, without running it, when the queue is full. */
  async run<T>(source: string, task: () => Promise<T>): Promise<T | typeof BUSY> {
    if (this.#running < this.concurrency) {
      this.#running++
    } else {
      if (this.#queued >= this.queueSize) return BUSY
      this.#queued++
      await new Promise<void>((resolve) => {
        const queue = this.#waiting.get(source)
        if (queue) queue.push(resolve)
        else this.#waiting.set(source, [resolve])
      })
    }
    try {
      return await task()
    } finally {
      this.#handOn()
    }
  }

  /** Gives a finished hash's place to the next source's first check, and sends that source to the back. */
  #handOn(): void {
    const next = this.#waiting.entries().next()
    if (next.done) {
      this.#running--
      return
    }
    const [source, queue] = next.value
    const resume = queue.shift()!
    this.#waiting.delete(source)
    if (queue.length > 0) this.#waiting.set(source, queue)
    this.#queued--
    resume()
  }
}
