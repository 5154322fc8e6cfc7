import { performance } from 'node:perf_hooks'
import { Counter, Gauge, type Registry } from 'prom-client'
import type { Work } from './rule-event.js'

/**
 * The most messages one turn evaluates, and the time after which it stops
 * taking more (looked at every CLOCK_EVERY messages). Under a sustained load
 * a slice of 512 stored events took about 5 ms, and the commit of what it
 * appended ran in the same turn of the event loop: the longest turns of the
 * store benchmark, 10 to 18 ms (bench/LIMITS.md, the store action's longest
 * stall). Sockets, timers and the store's commits are served in between:
 * a slice that leaves work behind, and a long commit of what it wrote,
 * lets a whole turn pass before the next, so that the commit (in that turn)
 * does not share a turn with another slice.
 */
const SLICE_MAX = 512
const SLICE_MS = 2
const CLOCK_EVERY = 16

export interface RuleQueueOptions {
  /** Messages that may wait for their rules before publishers are held. */
  queueSize: number
  /** Actions that may run at once. */
  concurrency: number
}

/**
 * The messages waiting for their rules, and the backpressure on publishers.
 * The publisher is never made to wait for rule work: a message is queued
 * and the publish hook returns. Only when the bounded queue is full is the
 * publisher held (Aedes then stops reading from that client) until there is
 * room again. Work is taken a bounded slice per turn (SLICE_MAX messages or
 * SLICE_MS), so that sockets are served in between, and while fewer than
 * `concurrency` actions run.
 */
export class RuleQueue {
  readonly #queue: Work[] = []
  readonly #waiting: Array<() => void> = []
  #inFlight = 0
  #scheduled = false
  #draining = false
  #closed = false
  #whenIdle: (() => void) | undefined
  readonly #dropped: Counter

  /** `longCommitNext` says whether a long commit is scheduled for the next turn (see longCommitScheduled). */
  constructor(
    private readonly options: RuleQueueOptions,
    private readonly evaluate: (work: Work) => void,
    registry: Registry,
    private readonly longCommitNext: () => boolean = () => false,
  ) {
    const queue = this
    new Gauge({
      name: 'switchyard_rules_queue_length',
      help: 'Messages waiting for rule evaluation',
      registers: [registry],
      collect() {
        this.set(queue.#queue.length)
      },
    })
    new Gauge({
      name: 'switchyard_rules_actions_in_flight',
      help: 'Rule actions running now',
      registers: [registry],
      collect() {
        this.set(queue.#inFlight)
      },
    })
    this.#dropped = new Counter({ name: 'switchyard_rules_dropped_total', help: 'Messages from rules dropped because the rule queue was full', registers: [registry] })
  }

  get closed(): boolean {
    return this.#closed
  }

  /**
   * Queues a message's rule work; `done` lets its publisher go on. A
   * client's publish waits while the queue is full; the router's own (with
   * no client) never waits on the queue its actions are draining: past twice
   * the bound they are dropped and counted.
   */
  offer(work: Work, fromClient: boolean, done: () => void): void {
    if (this.#queue.length < this.options.queueSize) {
      this.#enqueue(work)
      return done()
    }
    if (!fromClient) {
      if (this.#queue.length < this.options.queueSize * 2) this.#enqueue(work)
      else this.#dropped.inc()
      return done()
    }
    this.#waiting.push(() => {
      this.#enqueue(work)
      done()
    })
  }

  /** An action started. */
  started(): void {
    this.#inFlight++
  }

  /** An action has finished: room for queued work, or the queue may be idle. */
  settled(): void {
    this.#inFlight--
    if (this.#queue.length > 0 || this.#waiting.length > 0) this.#schedule()
    else if (this.#whenIdle && this.#idle()) this.#whenIdle()
  }

  /**
   * Takes no new messages, then lets what is queued and running finish (up
   * to `ms`), so that a shutdown does not cut rule work off halfway: actions
   * still need the broker and the store, which close after this.
   */
  async close(ms: number): Promise<void> {
    this.#closed = true
    for (const resume of this.#waiting.splice(0)) resume()
    if (this.#idle()) return
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms)
      timer.unref()
      this.#whenIdle = () => {
        clearTimeout(timer)
        resolve()
      }
    })
    this.#whenIdle = undefined
  }

  #idle(): boolean {
    return this.#queue.length === 0 && this.#inFlight === 0
  }

  #enqueue(work: Work): void {
    this.#queue.push(work)
    this.#schedule()
  }

  #schedule(): void {
    if (this.#scheduled) return
    this.#scheduled = true
    if (this.#draining && this.longCommitNext()) setImmediate(this.#skipTurn)
    else setImmediate(this.#drainNow)
  }

  readonly #drainNow = () => this.#drain()
  readonly #skipTurn = () => setImmediate(this.#drainNow)

  #drain(): void {
    this.#scheduled = false
    this.#draining = true
    try {
      this.#slice()
    } finally {
      this.#draining = false
    }
  }

  #slice(): void {
    // Taken by index and removed in one move. (Rules' own publishes may add
    // to the queue's end meanwhile.)
    const queue = this.#queue
    const until = performance.now() + SLICE_MS
    let taken = 0
    while (taken < queue.length && taken < SLICE_MAX && this.#inFlight < this.options.concurrency) {
      this.evaluate(queue[taken++]!)
      if (taken % CLOCK_EVERY === 0 && performance.now() >= until) break
    }
    queue.splice(0, taken)
    while (this.#waiting.length > 0 && this.#queue.length < this.options.queueSize) this.#waiting.shift()!()
    if (this.#queue.length > 0 && this.#inFlight < this.options.concurrency) this.#schedule()
    else if (this.#whenIdle && this.#idle()) this.#whenIdle()
  }
}
