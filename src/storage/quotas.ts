/**
 * Quotas on what the stores keep, as the stores see them: each store
 * enforces those on what lives in it, in the same atomic step as the write
 * (a SQLite transaction, a Redis script), so that several writers (the
 * nodes of a cluster) cannot pass a limit together. 0 means no limit. A
 * store starts with none (`NO_QUOTAS`): the broker sets them from
 * `limits:` (see broker/storage-quotas.ts).
 */

/** Retained messages: all together, and per client that set them. */
export interface RetainedQuota {
  maxMessages: number
  maxBytes: number
  maxMessagesPerClient: number
  maxBytesPerClient: number
}

/** The queue of QoS 1/2 messages of each persistent session. */
export interface QueueQuota {
  maxMessages: number
  maxBytes: number
}

export interface SessionQuotas {
  retained: RetainedQuota
  queue: QueueQuota
}

export const NO_QUOTAS: SessionQuotas = Object.freeze({
  retained: Object.freeze({ maxMessages: 0, maxBytes: 0, maxMessagesPerClient: 0, maxBytesPerClient: 0 }),
  queue: Object.freeze({ maxMessages: 0, maxBytes: 0 }),
})

export type RetainedLimit = 'retained_messages' | 'retained_bytes' | 'retained_messages_per_client' | 'retained_bytes_per_client'
export type QueueLimit = 'session_messages' | 'session_bytes'

/** What a store tells of the writes a quota stopped or trimmed, once they are committed. */
export interface QuotaReport {
  /** A retained message was not kept (the topic keeps what it had). */
  retainedRefused(limit: RetainedLimit, topic: string, clientId: string | undefined): void
  /** A session's queue was trimmed: `dropped` of its oldest messages deleted. */
  queueTrimmed(clientId: string, limit: QueueLimit, dropped: number): void
}

export const SILENT_REPORT: QuotaReport = {
  retainedRefused() {},
  queueTrimmed() {},
}

/** What the session store holds now, as `/metrics` reports it. */
export interface SessionUsage {
  retainedMessages: number
  retainedBytes: number
  /** Persistent sessions recorded with claimSession. */
  sessions: number
  queuedMessages: number
  queuedBytes: number
}

/** Whether `used`, after adding `more`, would be past `max` (0: no limit). */
export function past(max: number, used: number, more: number): boolean {
  return max > 0 && more > 0 && used + more > max
}

/**
 * Which retained limit storing a message would break, or undefined. `old`
 * is the message it replaces (of `oldClient`), if any: replacing one's own
 * message with one of the same size is always allowed.
 */
export function retainedBreach(
  q: RetainedQuota,
  total: { messages: number; bytes: number },
  mine: { messages: number; bytes: number } | undefined,
  size: number,
  clientId: string | undefined,
  old: { clientId: string | undefined; bytes: number } | undefined,
): RetainedLimit | undefined {
  const newTopic = old ? 0 : 1
  if (past(q.maxMessages, total.messages, newTopic)) return 'retained_messages'
  if (past(q.maxBytes, total.bytes, size - (old?.bytes ?? 0))) return 'retained_bytes'
  if (clientId === undefined) return undefined
  const own = old !== undefined && old.clientId === clientId
  if (past(q.maxMessagesPerClient, mine?.messages ?? 0, own ? 0 : 1)) return 'retained_messages_per_client'
  if (past(q.maxBytesPerClient, mine?.bytes ?? 0, size - (own ? old.bytes : 0))) return 'retained_bytes_per_client'
  return undefined
}

/**
 * How many of a queue's oldest messages to drop so that it fits its quota,
 * given its size and, oldest first, the sizes of its messages; and which
 * limit asked for the most. The newest message is never dropped, whatever
 * its size: the queue then holds it alone.
 */
export function queueTrim(q: QueueQuota, messages: number, bytes: number, sizes: () => Iterable<number>): { drop: number; limit: QueueLimit } | undefined {
  const overCount = q.maxMessages > 0 && messages > q.maxMessages ? messages - q.maxMessages : 0
  const overBytes = q.maxBytes > 0 && bytes > q.maxBytes
  if (overCount === 0 && !overBytes) return undefined
  let drop = 0
  let left = bytes
  if (overBytes) {
    for (const size of sizes()) {
      if (left <= q.maxBytes || drop === messages - 1) break
      left -= size
      drop++
    }
  }
  if (drop >= overCount) return drop === 0 ? undefined : { drop, limit: 'session_bytes' }
  return { drop: overCount, limit: 'session_messages' }
}
