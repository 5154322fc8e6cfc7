import type { Redis } from 'ioredis'
import { StoreError } from '../errors.js'
import { eventDataJson, type EventLog, type EventQuery, type NewEvent, type StoredEvent } from '../storage/event-log.js'
import { appendScript, decodeEvent, encodeEvent, queryScript, sweepScript, tableName } from './event-log-scripts.js'

export interface RedisEventLogOptions {
  /** An ioredis client the caller owns and closes. It must not have a `keyPrefix` of its own. */
  redis: Redis
  /** Prefixes every key (the log's are under `${keyPrefix}events:`), so that one Redis can hold several clusters. */
  keyPrefix: string
}

const MAX_LIMIT = 1000
/**
 * Events per append script. A script holds Redis for its whole run, every
 * other client waiting (the cluster's bus among them): 500 chat events take
 * as long as 2,500 to 4,000 pipelined SETs (5 to 14 ms on this busy machine).
 * A turn with more sends several scripts, together.
 */
export const APPEND_BATCH = 500
/** A UTF-16 surrogate without its pair. */
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/
// Expired events deleted per sweep script, for the same reason.
const SWEEP_CHUNK = 500

/** The appends of one script: its ARGV (the base, then six per event: see the script), settled together. */
interface Batch {
  args: string[]
  count: number
  done: Promise<void>
  resolve(): void
  reject(err: unknown): void
}

function newBatch(base: string): Batch {
  let resolve!: () => void
  let reject!: (err: unknown) => void
  const done = new Promise<void>((res, rej) => {
    resolve = res
    reject = rej
  })
  return { args: [base], count: 0, done, resolve, reject }
}

/**
 * The `store` action's events in Redis, shared by every node of a cluster:
 * each table is a hash of id -> event and a sorted set of ids by timestamp,
 * each key of a table one more sorted set, and one sorted set of the events
 * with a TTL by expiry (see event-log-scripts.ts for the keys).
 *
 * Why sorted sets and not a stream per table: a stream's entry ids must
 * grow, and events come from several nodes with their own clocks, a batch
 * late or a clock behind (an id from Redis' clock would not say the event's
 * time, so a time range would read the whole stream); a stream has no index
 * by key, so the newest events of one chat room would read the whole table;
 * and MINID trimming drops a prefix, while the TTL is each event's own (two
 * rules may store to one table with different TTLs, or one without).
 *
 * What it costs:
 * - Appends: the appends of one turn of the event loop go in one script per
 *   500 events (one INCRBY for their ids, then one HSET or ZADD per key
 *   touched), sent together: one round trip per turn. Each append resolves
 *   once Redis has run its script (durable as far as Redis' appendfsync
 *   makes it, as the cluster's messages are). The data is written as JSON when
 *   appended, so an event that cannot be is refused then and fails no
 *   other. Measured with chat events on this 2-core machine (busy): 11 to
 *   15 µs of this process' CPU an event, about what the SQLite store takes
 *   here (9 to 11), and 11 to 22 µs of Redis' (5 to 8 pipelined SETs'
 *   worth; the HSET and the three ZADDs alone took 9.8 when the script took
 *   11.5). One Redis core so takes some 45,000 to 90,000 events a second
 *   here, for every node together.
 * - A query: one script, one round trip; O(log N + M) for the M events it
 *   reads, expired ones skipped in Redis (the 50 newest of one key among
 *   100,000 events: 1.1 to 1.7 ms).
 * - A sweep: one script per 500 expired events, 5 to 8 µs of Redis an event.
 * - The row limit (setRowLimit, an event's maxRows): a table past it loses
 *   its oldest events in the append's own script, so that nodes appending
 *   together keep it; in the steady state at the limit, one event deleted
 *   (and its key and expiry entries) per event appended.
 * - Memory: 768 bytes an event in Redis (INFO used_memory before and after
 *   100,000 chat events of 166 bytes of JSON data, 20 rooms, a 24 h TTL):
 *   364 in the data hash (the event itself is some 240), 120 in each of the
 *   time and expiry sets, 129 in its key's set; 623 without a TTL. At
 *   100,000 events a second that is 77 MB a second: Redis' memory, not
 *   disk, bounds what a table keeps (1 GB holds 1.3 million such events).
 *   Keeping each event as the member of the time set instead, with no
 *   hash, saved only 35 bytes an event, for a second lookup per event read
 *   by key.
 *
 * The scripts build keys from the prefix and a batch touches many tables'
 * keys: this needs a single Redis (or a primary with replicas), not Redis
 * Cluster.
 */
export class RedisEventLog implements EventLog {
  readonly #redis: Redis
  readonly #base: string
  /** Waiting to be sent, oldest first; only the last takes new appends. */
  #waiting: Batch[] = []
  #scheduled: NodeJS.Immediate | undefined
  /** Sent, not yet answered. */
  readonly #sent = new Set<Promise<void>>()
  #maxRows = 0
  #trimmed: (table: string, rows: number) => void = () => {}
  /** The tables this node appended to, by the name their keys hold: rowCounts reports them. */
  readonly #tables = new Map<string, string>()

  constructor(options: RedisEventLogOptions) {
    // Keys built in scripts would not get the client's own prefix.
    if (options.redis.options.keyPrefix) throw new TypeError('RedisEventLog: give the key prefix as keyPrefix, not as the ioredis client\'s own keyPrefix option')
    this.#redis = options.redis
    this.#base = `${options.keyPrefix}events:`
  }

  append(event: NewEvent): Promise<void> {
    let data: string
    try {
      data = eventDataJson(event)
    } catch (err) {
      return Promise.reject(err as Error)
    }
    if (!Number.isFinite(event.timestamp) || (event.expiresAt !== null && !Number.isFinite(event.expiresAt))) {
      return Promise.reject(new StoreError(`cannot store the event in table ${event.table}: its timestamp and expiry must be numbers of milliseconds`))
    }
    // Redis gets the key as UTF-8, a lone surrogate as U+FFFD; the event says
    // it so too (as SQLite's would), so that the script that deletes the
    // event reads from it the key it was indexed under.
    const key = event.key === null || !LONE_SURROGATE.test(event.key) ? event.key : Buffer.from(event.key).toString()
    let batch = this.#waiting.at(-1)
    if (!batch || batch.count >= APPEND_BATCH) {
      batch = newBatch(this.#base)
      this.#waiting.push(batch)
    }
    batch.args.push(
      tableName(event.table),
      key === null ? '' : `:${key}`,
      String(event.timestamp),
      event.expiresAt === null ? '' : String(event.expiresAt),
      encodeEvent(key === event.key ? event : { ...event, key }, data),
      String(event.maxRows ?? this.#maxRows),
    )
    if (!this.#tables.has(event.table)) this.#tables.set(event.table, tableName(event.table))
    batch.count++
    this.#scheduled ??= setImmediate(() => this.#send())
    return batch.done
  }

  /** Sends what waits and resolves once Redis has answered every append asked for so far. */
  async flush(): Promise<void> {
    this.#send()
    await Promise.allSettled([...this.#sent])
  }

  /** Sends every waiting batch, one script each, together. */
  #send(): void {
    if (this.#scheduled) clearImmediate(this.#scheduled)
    this.#scheduled = undefined
    const batches = this.#waiting
    this.#waiting = []
    for (const batch of batches) {
      const sent = appendScript.run(this.#redis, [], batch.args).then((reply) => {
        batch.resolve()
        this.#reportTrimmed(reply as Buffer[])
      }, (err: unknown) => batch.reject(err))
      this.#sent.add(sent)
      void sent.finally(() => this.#sent.delete(sent))
    }
  }

  setRowLimit(maxRows: number, trimmed?: (table: string, rows: number) => void): void {
    this.#maxRows = maxRows
    if (trimmed) this.#trimmed = trimmed
  }

  /** The rows of the tables this node appended to since it started: one pipeline of ZCARDs. */
  async rowCounts(): Promise<Map<string, number>> {
    const tables = [...this.#tables]
    if (tables.length === 0) return new Map()
    const pipeline = this.#redis.pipeline()
    for (const [, name] of tables) pipeline.zcard(`${this.#base}${name}:time`)
    const replies = (await pipeline.exec()) ?? []
    return new Map(tables.map(([table], i) => [table, Number(replies[i]?.[1] ?? 0)]))
  }

  /** The script names each table by the name its keys hold. */
  #reportTrimmed(reply: Buffer[]): void {
    for (let i = 0; i + 1 < reply.length; i += 2) {
      const name = reply[i]!.toString()
      const table = [...this.#tables].find(([, n]) => n === name)?.[0] ?? name
      this.#trimmed(table, Number(reply[i + 1]))
    }
  }

  /** Newest first. Expired events are never returned, swept or not. */
  async query(table: string, q: EventQuery = {}): Promise<StoredEvent[]> {
    const t = this.#base + tableName(table)
    const index = q.key === undefined ? `${t}:time` : `${t}:key:${q.key}`
    const max = q.until === undefined ? '+inf' : `(${q.until}`
    const min = q.since === undefined ? '-inf' : String(q.since)
    const asked = Math.trunc(q.limit ?? 100)
    const limit = Number.isNaN(asked) ? 100 : Math.min(Math.max(1, asked), MAX_LIMIT)
    const reply = (await queryScript.run(this.#redis, [index, `${t}:data`], [max, min, limit, Date.now()])) as Buffer[]
    const events: StoredEvent[] = []
    for (let i = 0; i + 1 < reply.length; i += 2) events.push(decodeEvent(table, reply[i]!.toString(), reply[i + 1]!.toString()))
    return events
  }

  /** Deletes the events expired at `now`, a script per 500; resolves with how many. */
  async sweepExpired(now = Date.now()): Promise<number> {
    let deleted = 0
    for (;;) {
      const [found, gone] = (await sweepScript.run(this.#redis, [], [this.#base, now, SWEEP_CHUNK])) as [number, number]
      deleted += gone
      if (found < SWEEP_CHUNK) return deleted
    }
  }
}
