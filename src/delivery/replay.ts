import type { Publisher } from '../publisher/publisher.js'
import type { EventLog } from '../storage/event-log.js'

export interface StoredReplay {
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
export async function replayStored(events: EventLog, publisher: Publisher, replay: StoredReplay): Promise<number> {
  const stored = (await events.query(replay.table, { key: replay.key, since: replay.from, until: replay.to, limit: replay.limit })).reverse()
  for (const event of stored) {
    await publisher.publish({ topic: replay.topic ?? event.topic, payload: Buffer.from(JSON.stringify(event.data)), qos: 1, retain: false }, { hops: 1, fromLoop: false })
  }
  return stored.length
}
