import type { Writable } from 'node:stream'
import { flushBeforeEachPacket } from './internals/index.js'

/**
 * One subscriber's socket as the coalescer sees it. `stamp` is the epoch of
 * the last delivery handed to Aedes for it.
 */
export interface Outlet {
  readonly conn: Writable
  stamp: number
  corked: boolean
}

/**
 * Sends the deliveries one turn of the event loop makes to a subscriber in
 * one system call.
 *
 * Aedes writes every delivery in an immediate of its own, and mqtt-packet
 * corks the socket around each packet and uncorks it on the next tick: every
 * delivery was a `writev` of its own, the larger part of the broker's CPU
 * time in a fan-out (the kernel's share alone was a third). Here a socket (or
 * a WebSocket stream, whose batch becomes one frame) is corked when the first
 * delivery of a turn is handed to Aedes, and uncorked by an immediate queued
 * behind the ones that write them: the deliveries that Aedes writes in one
 * pass over its immediates leave together.
 *
 * Epochs keep that promise when deliveries are handed over in the middle of
 * the immediates (a rule's republish runs there): each batch of hand-overs
 * gets an uncork queued behind its own writes, and an uncork leaves corked
 * the sockets handed a delivery after it was queued.
 *
 * Corking must not make a subscriber look slow: a socket whose buffer passes
 * half its high-water mark is flushed before the next packet is written, so
 * a write returns false (and back-pressure starts) only when the kernel has
 * stopped taking bytes, as before.
 */
export class WriteCoalescer {
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
    const outlet: Outlet = { conn, stamp: 0, corked: false }
    const flushAt = conn.writableHighWaterMark / 2
    flushBeforeEachPacket(conn, (stream) => outlet.corked && stream.writableLength >= flushAt)
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
      this.#corked.push(outlet)
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
    let kept = 0
    for (let i = 0; i < corked.length; i++) {
      const outlet = corked[i]!
      if (outlet.stamp > upTo) {
        corked[kept++] = outlet
        continue
      }
      outlet.corked = false
      outlet.conn.uncork()
    }
    corked.length = kept
  }
}
