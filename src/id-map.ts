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
 * Functions). An object whose keys are array indices keeps them in a number
 * dictionary, whose replaced tables link to nothing.
 *
 * Ids are integers from 0 to 2^32 - 2; others work, more slowly, as
 * named properties. Iteration is in ascending order of id, which is the
 * order of insertion for ids handed out in sequence.
 */
export class IdMap<V> {
  #entries: Record<number, V> = Object.create(null) as Record<number, V>
  #size = 0

  get size(): number {
    return this.#size
  }

  get(id: number): V | undefined {
    return this.#entries[id]
  }

  has(id: number): boolean {
    return id in this.#entries
  }

  set(id: number, value: V): this {
    if (!(id in this.#entries)) this.#size++
    this.#entries[id] = value
    return this
  }

  delete(id: number): boolean {
    if (!(id in this.#entries)) return false
    delete this.#entries[id]
    this.#size--
    return true
  }

  *keys(): IterableIterator<number> {
    for (const key in this.#entries) yield Number(key)
  }

  *values(): IterableIterator<V> {
    for (const key in this.#entries) yield this.#entries[key as unknown as number] as V
  }
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
