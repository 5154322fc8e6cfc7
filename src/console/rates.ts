/** Snapshots kept: one a second, a minute's worth and one more. */
const KEPT = 61

/** A snapshot of counters, as the rates read it. */
export interface Counts {
  get(key: string): number | undefined
}

/**
 * Per-second rates over the last minute of counters that only grow, from a
 * snapshot of them taken once a second (`sample`): nothing is added to the
 * paths that count. A counter that went down (a rule renamed away and back)
 * reads as its new value.
 */
export class Rates {
  readonly #snapshots: Array<{ at: number; values: Counts }> = []

  sample(values: Counts, at = Date.now()): void {
    this.#snapshots.push({ at, values })
    if (this.#snapshots.length > KEPT) this.#snapshots.shift()
  }

  /** Per second, over the last minute (or since the first snapshot); 0 before two snapshots. */
  rate(key: string): number {
    const first = this.#snapshots[0]
    const last = this.#snapshots[this.#snapshots.length - 1]
    if (!first || !last || last === first) return 0
    const now = last.values.get(key) ?? 0
    const then = first.values.get(key) ?? 0
    const delta = now >= then ? now - then : now
    return Math.round((delta / ((last.at - first.at) / 1000)) * 100) / 100
  }
}

/**
 * Counters read under the same keys second after second (a rule's, each of
 * its actions'), laid out once: a snapshot is then an array of numbers in
 * that order. With 10,000 rules a minute of snapshots as maps of their keys
 * kept 1.8 million entries alive.
 */
export class CountsLayout {
  readonly #index = new Map<string, number>()

  constructor(keys: readonly string[]) {
    keys.forEach((key, i) => this.#index.set(key, i))
  }

  get size(): number {
    return this.#index.size
  }

  /** The snapshot of `values`, which are in the order of the keys; `others` (keys not laid out) are read after them. */
  snapshot(values: Float64Array, others?: ReadonlyMap<string, number>): Counts {
    const index = this.#index
    return {
      get: (key) => {
        const i = index.get(key)
        return i === undefined ? others?.get(key) : values[i]
      },
    }
  }
}
