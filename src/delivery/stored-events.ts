import type { Publisher } from '../publisher/publisher.js'
import type { EventLog, EventQuery, StoredEvent } from '../storage/event-log.js'

export interface StoredReplayRequest {
  table: string
  key?: string | undefined
  from?: number | undefined
  to?: number | undefined
  /** Where to publish them; each event's own topic when absent. */
  topic?: string | undefined
  limit: number
}

/** The events that rules' `store` actions keep, as the admin API reads and replays them. */
export class StoredEvents {
  constructor(private readonly events: EventLog, private readonly publisher: Publisher) {}

  /** A table's events, newest first. */
  query(table: string, query: EventQuery): Promise<StoredEvent[]> {
    return this.events.query(table, query)
  }

  /**
   * Archive and replay: publishes the stored events of a table over a time
   * range again, oldest first, as they happened, one hop from an origin (so
   * rules see them, and the loop guard counts them). Resolves with how many.
   */
  async replay(request: StoredReplayRequest): Promise<number> {
    const stored = (await this.events.query(request.table, { key: request.key, since: request.from, until: request.to, limit: request.limit })).reverse()
    for (const event of stored) {
      await this.publisher.publish({ topic: request.topic ?? event.topic, payload: Buffer.from(JSON.stringify(event.data)), qos: 1, retain: false }, { hops: 1, fromLoop: false })
    }
    return stored.length
  }
}
