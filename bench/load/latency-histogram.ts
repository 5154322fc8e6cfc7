/**
 * Latencies in logarithmic buckets 1% wide, from 1 µs to about 100 s: a
 * saturated run delivers millions of messages, too many to keep each one.
 */
const GROWTH = Math.log(1.01)
const BUCKETS = Math.ceil(Math.log(1e8) / GROWTH) + 1

export class LatencyHistogram {
  readonly #counts = new Float64Array(BUCKETS)
  #total = 0

  /** Records one latency in nanoseconds. */
  record(ns: number): void {
    const us = ns / 1000
    const bucket = us <= 1 ? 0 : Math.min(BUCKETS - 1, Math.round(Math.log(us) / GROWTH))
    this.#counts[bucket]!++
    this.#total++
  }

  get count(): number {
    return this.#total
  }

  /** The latency in milliseconds below which the fraction `q` of the samples fall; NaN if empty. */
  quantileMs(q: number): number {
    if (this.#total === 0) return Number.NaN
    const rank = Math.ceil(q * this.#total)
    let seen = 0
    for (let i = 0; i < BUCKETS; i++) {
      seen += this.#counts[i]!
      if (seen >= rank) return Math.exp(i * GROWTH) / 1000
    }
    return Math.exp((BUCKETS - 1) * GROWTH) / 1000
  }
}
