import { z } from 'zod'
import { byteSize } from '../byte-size.js'

/*
 * Storage quotas: bounds on what clients can make Switchyard keep (retained
 * messages, persistent sessions and their queues, subscriptions, rows of the
 * `store` action). Without them a client that publishes 10 MB to topics
 * read by 20 offline persistent sessions grew the database by 240 MB, and
 * nothing kept it from going on. Each key takes 0 for "no limit". The
 * defaults suit a public chat: a person's client never comes near them.
 */

const count = (what: string) => z.number({ error: `must be a whole number of ${what} (0 for no limit)` })
  .int(`must be a whole number of ${what} (0 for no limit)`)
  .min(0, 'must not be negative (0 for no limit)')

const bytes = byteSize.pipe(z.number().min(0, 'must not be negative (0 for no limit)'))

/**
 * Retained messages, counted all together and per client that set them (a
 * rule's republish counts all together only). Past a limit a new retained
 * message is not kept; it is still delivered to those subscribed now. An
 * empty payload, which deletes one, is always taken.
 */
export const retainedQuotaSchema = z.strictObject({
  maxMessages: count('messages').default(10_000),
  maxBytes: bytes.default(64 * 1024 ** 2),
  maxMessagesPerClient: count('messages').default(100),
  maxBytesPerClient: bytes.default(1024 ** 2),
}).prefault({})

/**
 * Persistent sessions (CleanSession=0). `maxPerUser` bounds how many one
 * user may hold (an anonymous client, or any client while every client may
 * connect as it says it is, counts under its network address). `maxMessages`
 * and `maxBytes` bound each session's queue of QoS 1/2 messages: a message
 * past them drops the oldest first. 1 MB holds a thousand chat messages;
 * 20 sessions at that limit keep 20 MB, not the whole of what was published.
 */
export const sessionsQuotaSchema = z.strictObject({
  maxPerUser: count('sessions').default(10),
  maxMessages: count('messages').default(1000),
  maxBytes: bytes.default(1024 ** 2),
}).prefault({})

/** Subscriptions one client may hold at once; a SUBSCRIBE past it gets the failure code 0x80 for the extra filters. */
export const subscriptionsQuotaSchema = z.strictObject({
  maxPerClient: count('subscriptions').default(100),
}).prefault({})

/**
 * Rows each table of the `store` action keeps, unless the action says
 * otherwise (`maxRows`): past it the oldest rows are deleted, as in a capped
 * collection. 100,000 chat events (180 bytes of JSON each, with a key and a
 * TTL) took 33 MB of SQLite.
 */
export const storeQuotaSchema = z.strictObject({
  maxRows: count('rows').default(100_000),
}).prefault({})
