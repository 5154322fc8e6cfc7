/**
 * The writes, of every database in the process, that wait for a commit
 * scheduled as an immediate: at the end of this turn of the event loop or
 * the next (WriteBatch, EventStore). Work that can wait a turn (the rule
 * queue's next slice) leaves that turn to a commit of LONG_COMMIT writes or
 * more: a slice and the commit of what the slice before it stored made the
 * store action's longest turns (bench/LIMITS.md, a turn of its own for a
 * long commit). A short commit shares its turn, as a turn's own cost is then
 * worth more than what the slice would wait for: the function deliveries
 * through the outbox, whose commits hold about 50 writes, were 1 to 9 %
 * slower when every commit had a turn of its own.
 */
const LONG_COMMIT = 128

let waiting = 0

/** One store's writes waiting for its scheduled commit, counted in the process's total. */
export class TurnWrites {
  #counted = 0

  /** `writes` more wait for the store's scheduled commit. */
  add(writes: number): void {
    this.#counted += writes
    waiting += writes
  }

  /** None of the store's writes wait for an immediate's commit any longer: it ran, was cleared, or the checkpointer holds it back. */
  clear(): void {
    waiting -= this.#counted
    this.#counted = 0
  }
}

/** Whether the writes waiting would make a long commit (half a millisecond or more on this machine). */
export function longCommitScheduled(): boolean {
  return waiting >= LONG_COMMIT
}
