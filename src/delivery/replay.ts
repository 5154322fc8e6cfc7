import type { Publisher } from '../publisher/publisher.js'
import type { EventLog } from '../storage/event-log.js'

export interface StoredReplayRequest {
  table: string
  key?: string | undefined
  from?: number | undefined
  to?: number | undefined
  /** Where to publish them; each event's own topic when absent. */
  topic?: string | undefined
  limit: number
}

/**
 * Archive and replay: publishes the stored events of a table over a time
 * range again, oldest first, as they happened, one hop from an origin (so
 * rules see them, and the loop guard counts them).
 */
export class StoredEventReplay {
  constructor(private readonly events: EventLog, private readonly publisher: Publisher) {}

  /** Resolves with how many events were published again. */
  async replay(request: StoredReplayRequest): Promise<number> {
    const stored = (await this.events.query(request.table, { key: request.key, since: request.from, until: request.to, limit: request.limit })).reverse()
    for (const event of stored) {
      await this.publisher.publish({ topic: request.topic ?? event.topic, payload: Buffer.from(JSON.stringify(event.data)), qos: 1, retain: false }, { hops: 1, fromLoop: false })
    }
    return stored.length
  }
}
