/**
 * A map from whole-number ids to values, for entries that come and go by
 * the thousand a second: invocations in flight, claimed deliveries.
 *
 * A JavaScript `Map` or `Set` under that churn keeps what it held alive long
 * after it was deleted. V8 keeps a Map's entries in a hash table and makes a
 * new one as deletions and additions fill it; the table it leaves links to
 * the new one (for iterators under way) and still holds the entries it had.
 * Once a table has lived through two scavenges it is in the old generation,
 * and from then on every table after it, and every value any of them held,
 * is reachable from it until the next full collection. Each value is then
 * copied out of the young generation, however short its life. Through the
 * function pool's and the outbox's maps this held every invocation's
 * objects: 1.2 MB promoted at each scavenge and a full collection about
 * every 300 ms under the benchmark's function deliveries (bench/LIMITS.md,
 * Functions).
 *
 * So the table is this class's own: open addressing with linear probing,
 * ids in a Float64Array, values in an array beside it, a deleted entry's
 * slot emptied at once (its run of followers shifted back, so no marker is
 * left), and a table replaced only when it doubles or halves. Ids handed
 * out in sequence never collide while the ids in the map span less than
 * its capacity (see `hash`). An object whose keys are array indices, which
 * this replaced, kept them in a number dictionary: 0.36 µs a set and
 * delete with 8 or 64 ids in the map, against 0.02 here (and 0.07 for a
 * Map).
 *
 * Ids are safe integers (up to 2^53 - 1). Iteration is in ascending order of
 * id, which is the order of insertion for ids handed out in sequence; it
 * goes over the ids there were when it began.
 */
export class IdMap<V> {
  #keys = emptyKeys(MIN_CAPACITY)
  #values: Array<V | undefined> = new Array<V | undefined>(MIN_CAPACITY).fill(undefined)
  #mask = MIN_CAPACITY - 1
  #size = 0

  get size(): number {
    return this.#size
  }

  get(id: number): V | undefined {
    const slot = this.#slotOf(id)
    return this.#keys[slot] === id ? this.#values[slot] : undefined
  }

  has(id: number): boolean {
    return this.#keys[this.#slotOf(id)] === id
  }

  set(id: number, value: V): this {
    if (!Number.isSafeInteger(id)) throw new RangeError(`an IdMap's ids are safe integers, not ${id}`)
    const slot = this.#slotOf(id)
    this.#values[slot] = value
    if (this.#keys[slot] === id) return this
    this.#keys[slot] = id
    // At most half full: runs stay short, and a missing id's probe soon meets an empty slot.
    if (++this.#size * 2 > this.#keys.length) this.#resize(this.#keys.length * 2)
    return this
  }

  delete(id: number): boolean {
    let hole = this.#slotOf(id)
    const keys = this.#keys
    if (keys[hole] !== id) return false
    const values = this.#values
    const mask = this.#mask
    // Backward-shift deletion: each follower in the run whose home slot is
    // not between the hole and itself moves into the hole, so that every
    // probe still reaches its id without passing an empty slot.
    for (let slot = (hole + 1) & mask; ; slot = (slot + 1) & mask) {
      const key = keys[slot]!
      if (key !== key) break
      const home = hash(key) & mask
      if (((slot - home) & mask) >= ((slot - hole) & mask)) {
        keys[hole] = key
        values[hole] = values[slot]
        hole = slot
      }
    }
    keys[hole] = NaN
    values[hole] = undefined
    if (--this.#size * 8 < keys.length && keys.length > MIN_CAPACITY) this.#resize(keys.length / 2)
    return true
  }

  *keys(): IterableIterator<number> {
    yield* this.#sortedIds()
  }

  *values(): IterableIterator<V> {
    for (const id of this.#sortedIds()) {
      const slot = this.#slotOf(id)
      if (this.#keys[slot] === id) yield this.#values[slot] as V
    }
  }

  /** The slot that holds `id`, or else the empty slot where it would go. */
  #slotOf(id: number): number {
    const keys = this.#keys
    const mask = this.#mask
    let slot = hash(id) & mask
    // An empty slot holds NaN, the one value not equal to itself.
    for (let key = keys[slot]!; key !== id && key === key; key = keys[slot]!) slot = (slot + 1) & mask
    return slot
  }

  #sortedIds(): number[] {
    const ids: number[] = []
    for (const key of this.#keys) if (key === key) ids.push(key)
    return ids.sort((a, b) => a - b)
  }

  #resize(capacity: number): void {
    const keys = this.#keys
    const values = this.#values
    this.#keys = emptyKeys(capacity)
    this.#values = new Array<V | undefined>(capacity).fill(undefined)
    this.#mask = capacity - 1
    for (let i = 0; i < keys.length; i++) {
      const key = keys[i]!
      if (key !== key) continue
      const slot = this.#slotOf(key)
      this.#keys[slot] = key
      this.#values[slot] = values[i]
    }
  }
}

/** A power of two. */
const MIN_CAPACITY = 16

/** An empty slot holds NaN, which is no id (and equal to nothing, itself included). */
function emptyKeys(capacity: number): Float64Array {
  return new Float64Array(capacity).fill(NaN)
}

/**
 * The id's low 32 bits times the golden ratio's (Fibonacci hashing). Ids
 * in sequence land a fixed stride apart, spread evenly over the table:
 * runs of filled slots stay short, and so does a deletion's walk to the
 * end of its run. Ids in consecutive slots would never collide, but would
 * fill one run as long as the map, walked at every deletion.
 */
function hash(id: number): number {
  return Math.imul(id, 0x9e3779b1)
}

/** A set of whole-number ids, for the same churn as IdMap (which says why). */
export class IdSet {
  readonly #ids = new IdMap<true>()

  get size(): number {
    return this.#ids.size
  }

  has(id: number): boolean {
    return this.#ids.has(id)
  }

  add(id: number): this {
    this.#ids.set(id, true)
    return this
  }

  delete(id: number): boolean {
    return this.#ids.delete(id)
  }

  [Symbol.iterator](): IterableIterator<number> {
    return this.#ids.keys()
  }
}
