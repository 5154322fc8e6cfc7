/**
 * Smooth weighted round-robin (the scheme nginx uses for upstreams): each pick
 * goes to the target whose running credit is highest, then that target pays
 * back the total. Over any window the shares follow the weights exactly,
 * spread out rather than in runs (90/10 gives one "canary" event in every
 * ten), and the choice costs O(targets) with no randomness to drift.
 */
export class WeightedPicker<T> {
  readonly #items: readonly T[]
  readonly #weights: readonly number[]
  readonly #credit: number[]
  readonly #total: number

  constructor(items: readonly T[], weights: readonly number[]) {
    this.#items = items
    this.#weights = weights
    this.#credit = weights.map(() => 0)
    this.#total = weights.reduce((a, b) => a + b, 0)
    if (!(this.#total > 0)) throw new Error('at least one weight must be above 0')
  }

  pick(): T {
    let best = -1
    for (let i = 0; i < this.#weights.length; i++) {
      this.#credit[i]! += this.#weights[i]!
      if (this.#weights[i]! > 0 && (best < 0 || this.#credit[i]! > this.#credit[best]!)) best = i
    }
    this.#credit[best]! -= this.#total
    return this.#items[best]!
  }
}
