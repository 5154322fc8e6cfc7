import type { AedesPublishPacket } from 'aedes'
import type { Writable } from 'node:stream'
import type { Counter } from 'prom-client'
import type { Limits } from './limits.js'

type Deliver = (packet: AedesPublishPacket, cb: () => void) => void

interface Held {
  packet: AedesPublishPacket
  deliver: Deliver
  size: number
}

export interface SlowSubscriberDeps {
  limits: Limits
  /** Counts QoS 0 messages dropped for a subscriber that is not reading. */
  dropped: Counter
}

/**
 * The messages one subscriber is owed while its socket is full.
 *
 * Aedes holds a delivery until the subscriber's socket drains, and its
 * emitter delivers only so many messages at once (`concurrency`): one
 * subscriber that stops reading held up every other subscriber until the
 * drain timeout cut it off. Here a live message for a subscriber whose
 * socket is full waits in this queue instead, and the emitter goes on at
 * once. The queue is sent, in order, when the socket drains. Past
 * `limits.maxQueuedBytes`, a QoS 0 message is dropped (as Mosquitto and
 * EMQX do) and a QoS 1/2 message ends the connection: a persistent session
 * keeps it in the store for the next connection. A subscriber that does not
 * drain at all is disconnected by Aedes' drain timeout.
 *
 * Retained messages sent on SUBSCRIBE keep Aedes' own back-pressure: they
 * come from the store, page by page, and wait for the socket.
 */
export class SlowSubscriber {
  #held: Held[] = []
  #bytes = 0
  #flushing = false

  constructor(
    private readonly conn: Writable,
    private readonly clientId: () => string,
    private readonly deps: SlowSubscriberDeps,
  ) {}

  /**
   * True while messages wait, or the last of them is still being written:
   * every live message must then queue behind them, to keep the order.
   */
  get waiting(): boolean {
    return this.#flushing
  }

  /** Queues a message for later, or drops it, and lets the emitter go on. */
  hold(packet: AedesPublishPacket, cb: () => void, deliver: Deliver): void {
    // The encoded size, near enough: payload, topic (UTF-8 at most 3 bytes a unit) and headers.
    const size = (packet.payload?.length ?? 0) + packet.topic.length * 3 + 8
    const max = this.deps.limits.config.maxQueuedBytes
    if (this.#bytes + size > max) {
      if (packet.qos === 0) {
        this.deps.dropped.inc()
      } else if (!this.conn.destroyed) {
        const message = this.deps.limits.exceeded('queued_bytes', `subscriber is not reading: more than ${max} bytes wait for it; closing the connection`, { clientId: this.clientId() })
        this.conn.destroy(new Error(message))
      }
      setImmediate(cb)
      return
    }
    this.#held.push({ packet, deliver, size })
    this.#bytes += size
    if (!this.#flushing) {
      this.#flushing = true
      if (this.conn.writableNeedDrain) this.conn.once('drain', () => this.#flush())
      else setImmediate(() => this.#flush())
    }
    setImmediate(cb)
  }

  /** Sends what waits, one message at a time: each waits for the socket, as Aedes' own writes do. */
  #flush(): void {
    const next = (): void => {
      const item = this.#held.shift()
      if (!item) {
        this.#flushing = false
        return
      }
      this.#bytes -= item.size
      item.deliver(item.packet, next)
    }
    next()
  }
}
