import type { Cause, Publisher } from '../publisher/publisher.js'
import type { DeadLetter, DeadLetterFilter, NewDelivery, OutboxStore } from '../storage/outbox-store.js'

/** What a durable delivery is handed to: the outbox, and whoever delivers what it holds. */
export interface DeliveriesDeps {
  outbox: OutboxStore
  publisher: Publisher
  /** Looks for due deliveries now. */
  wake(): void
}

/**
 * The durable deliveries as the rest of Switchyard uses them: actions
 * record them (through the loop guard), the admin API lists and replays the
 * dead letters.
 */
export class Deliveries {
  constructor(private readonly deps: DeliveriesDeps) {}

  /**
   * Records a durable delivery that `cause`'s rule made, and resolves once
   * it is committed; past maxHops it is dropped as a loop instead.
   */
  async record(delivery: NewDelivery, cause: Cause): Promise<void> {
    const { hops, fromLoop } = delivery.context
    if (!this.deps.publisher.admits({ hops, fromLoop }, delivery.target, cause)) return
    await this.deps.outbox.record([delivery])
    this.deps.wake()
  }

  deadLetters(filter: DeadLetterFilter): Promise<DeadLetter[]> {
    return this.deps.outbox.deadLetters(filter)
  }

  /** Puts the dead letters that `filter` picks back in the outbox, due now; resolves with the new delivery ids. */
  async replay(filter: DeadLetterFilter): Promise<number[]> {
    const letters = await this.deps.outbox.deadLetters(filter)
    const ids = await this.deps.outbox.replay(letters)
    this.deps.wake()
    return ids
  }
}
