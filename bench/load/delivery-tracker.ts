import { LatencyHistogram } from './latency-histogram.js'
import { readPublisher, readSentNs, readSequence } from './payload.js'

/**
 * Counts what each subscriber receives from each publisher, by sequence
 * number, so that every message is accounted for: received once, received
 * twice (a duplicate) or never (lost). Brokers keep per-topic order for one
 * publisher [MQTT-4.6.0-6], so a jump ahead in sequence is counted too.
 */
export class DeliveryTracker {
  /** The next sequence number expected, per subscriber x publisher. */
  readonly #next: Float64Array
  /** Deliveries of each publisher's messages, to all subscribers together. */
  readonly deliveredFrom: Float64Array
  readonly latency = new LatencyHistogram()
  /** Every delivery, duplicates included. */
  deliveries = 0
  /** Distinct messages received. */
  received = 0
  duplicates = 0
  outOfOrder = 0
  /** Latencies are recorded only inside the measured window. */
  measuring = false

  /** Unordered runs: the sequences seen above the next expected one, per subscriber x publisher. */
  readonly #ahead: Array<Set<number>> | undefined

  /**
   * `ordered: false` for paths that do not keep order (a function's output,
   * made on several workers at once): a message that arrives before an
   * earlier one is then neither out of order nor makes the earlier one a
   * duplicate.
   */
  constructor(readonly publishers: number, readonly subscribers: number, ordered = true) {
    this.#next = new Float64Array(publishers * subscribers)
    this.deliveredFrom = new Float64Array(publishers)
    if (!ordered) this.#ahead = Array.from({ length: publishers * subscribers }, () => new Set<number>())
  }

  /** Records one delivery to `subscriber` and returns the publisher it came from. */
  record(subscriber: number, payload: Buffer, nowNs: number): number {
    const publisher = readPublisher(payload)
    const sequence = readSequence(payload)
    const k = subscriber * this.publishers + publisher
    const expected = this.#next[k]!
    const ahead = this.#ahead?.[k]
    if (ahead) {
      if (sequence < expected || ahead.has(sequence)) {
        this.duplicates++
      } else {
        this.received++
        if (sequence === expected) {
          let next = expected + 1
          while (ahead.delete(next)) next++
          this.#next[k] = next
        } else {
          ahead.add(sequence)
        }
      }
    } else if (sequence === expected) {
      this.#next[k] = expected + 1
      this.received++
    } else if (sequence < expected) {
      this.duplicates++
    } else {
      this.outOfOrder++
      this.#next[k] = sequence + 1
      this.received++
    }
    this.deliveries++
    this.deliveredFrom[publisher]!++
    if (this.measuring) this.latency.record(nowNs - readSentNs(payload))
    return publisher
  }
}
