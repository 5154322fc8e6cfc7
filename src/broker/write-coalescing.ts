import { performance } from 'node:perf_hooks'
import type { Writable } from 'node:stream'
import { flushBeforeEachPacket } from './internals/index.js'

/**
 * One subscriber's socket as the coalescer sees it. `stamp` is the epoch of
 * the last delivery handed to Aedes for it; `since`, when what it holds
 * began to wait (performance.now()); `send` sends what it holds and leaves
 * it corked as deeply as it was.
 */
export interface Outlet {
  readonly conn: Writable
  stamp: number
  corked: boolean
  since: number
  send: () => void
}

/**
 * How long a written delivery may wait in a corked socket for the uncork of
 * a later one. At a steady 5,000 messages a second to 10 subscribers a new
 * delivery was handed over before nearly every uncork ran, so sockets stayed
 * corked from one uncork to the next until half the high-water mark had
 * built up: 0.9 to 1.8 % of the deliveries waited there over 5 ms in three
 * rounds of each QoS. With this bound 0.01 to 0.34 % did, at the same CPU
 * per delivery (bench/LIMITS.md, tail latency). A quarter of it sent so
 * often that, at QoS 1, the broker fell behind the same load: p99 over
 * 100 ms in two rounds of three.
 */
export const MAX_HOLD_MS = 1

/**
 * Sends the deliveries one turn of the event loop makes to a subscriber in
 * one system call.
 *
 * mqtt-packet corks the socket around each packet and uncorks it on the next
 * tick, and Aedes writes every delivery in an immediate of its own: every
 * delivery was a `writev` of its own, the larger part of the broker's CPU
 * time in a fan-out (the kernel's share alone was a third). Here a socket (or
 * a WebSocket stream, whose batch becomes one frame) is corked when the first
 * delivery of a turn is handed over, before it is written, and uncorked by an
 * immediate queued behind the ones that Aedes writes in: the deliveries
 * written as they are routed (a clean session's, deliverNow) and those that
 * Aedes writes in one pass over its immediates leave together. A long turn
 * (a burst of publishes read at once) does not hold them to its end: a
 * delivery that finds its socket holding what was written MAX_HOLD_MS ago
 * or more sends that first.
 *
 * Epochs keep that promise when deliveries are handed over in the middle of
 * the immediates (a rule's republish runs there): each batch of hand-overs
 * gets an uncork queued behind its own writes, and an uncork leaves corked
 * the sockets handed a delivery after it was queued. Under a steady stream
 * that could go on from uncork to uncork, so an uncork that leaves a socket
 * corked still sends what it has held for MAX_HOLD_MS or longer.
 *
 * Corking must not make a subscriber look slow: a socket whose buffer passes
 * half its high-water mark is flushed before the next packet is written, so
 * a write returns false (and back-pressure starts) only when the kernel has
 * stopped taking bytes, as before.
 */
export class WriteCoalescer {
  /** `maxHoldMs`: see MAX_HOLD_MS. */
  constructor(private readonly maxHoldMs = MAX_HOLD_MS) {}

  #epoch = 0
  #placing = false
  readonly #corked: Outlet[] = []

  /**
   * An outlet for a connection whose writes can be coalesced: one that writes
   * what was written while corked at once (`_writev`: a TCP or TLS socket, a
   * WebSocketStream). None for others, which would
   * send a corked stream's chunks one at a time, each waiting for the last.
   */
  outlet(conn: Writable): Outlet | undefined {
    if (typeof conn._writev !== 'function') return undefined
    const flushAt = conn.writableHighWaterMark / 2
    const outlet: Outlet = { conn, stamp: 0, corked: false, since: 0, send: noop }
    outlet.send = flushBeforeEachPacket(conn, (stream) => {
      if (!outlet.corked || stream.writableLength < flushAt) return false
      outlet.since = performance.now()
      return true
    })
    return outlet
  }

  /** Holds the outlet's writes until the deliveries handed to Aedes so far have been written. */
  hold(outlet: Outlet): void {
    outlet.stamp = this.#epoch
    if (!outlet.corked) {
      // Corked first, marked after: the socket's cork must not take this
      // cork for one already held and flush.
      outlet.conn.cork()
      outlet.corked = true
      outlet.since = performance.now()
      this.#corked.push(outlet)
    } else if (outlet.conn.writableLength > 0) {
      // A long turn (a burst of publishes read at once) sends as it goes.
      this.#sendIfHeldLong(outlet, performance.now())
    }
    if (!this.#placing) {
      this.#placing = true
      // After the current callback has handed over all it will, the uncork
      // is queued behind every immediate it made.
      process.nextTick(this.#place)
    }
  }

  readonly #place = (): void => {
    this.#placing = false
    setImmediate(this.#flush, this.#epoch++)
  }

  readonly #flush = (upTo: number): void => {
    const corked = this.#corked
    const now = performance.now()
    let kept = 0
    for (let i = 0; i < corked.length; i++) {
      const outlet = corked[i]!
      if (outlet.stamp > upTo) {
        corked[kept++] = outlet
        // Still held for the delivery to be written.
        this.#sendIfHeldLong(outlet, now)
        continue
      }
      outlet.corked = false
      outlet.conn.uncork()
    }
    corked.length = kept
  }

  /** Sends what the outlet holds if it has held it for the bound, and holds it again. */
  #sendIfHeldLong(outlet: Outlet, now: number): void {
    if (now - outlet.since < this.maxHoldMs || outlet.conn.writableLength === 0) return
    outlet.send()
    outlet.since = now
  }
}

function noop(): void {}
