/** Snapshots kept: one a second, a minute's worth and one more. */
const KEPT = 61

/**
 * Per-second rates over the last minute of counters that only grow, from a
 * snapshot of them taken once a second (`sample`): nothing is added to the
 * paths that count. A counter that went down (a rule renamed away and back)
 * reads as its new value.
 */
export class Rates {
  readonly #snapshots: Array<{ at: number; values: ReadonlyMap<string, number> }> = []

  sample(values: ReadonlyMap<string, number>, at = Date.now()): void {
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
