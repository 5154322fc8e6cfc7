import { StoreError } from '../errors.js'

/** An event kept by a rule's `store` action. */
export interface StoredEvent {
  id: number
  table: string
  key: string | null
  /** When the broker received the message, ms since the epoch. */
  timestamp: number
  topic: string
  clientId: string | null
  data: unknown
  expiresAt: number | null
}

export type NewEvent = Omit<StoredEvent, 'id'> & {
  /**
   * The most rows the event's table keeps once it is appended, the oldest
   * deleted first (0: no limit); the log's own (setRowLimit) when absent.
   */
  maxRows?: number | undefined
  /**
   * `data` already written as JSON text, which the log then keeps as it
   * is: the payload as published, when a rule stores `SELECT *` of a JSON
   * payload. Read back, it is the same document.
   */
  dataJson?: string | undefined
}

export interface EventQuery {
  key?: string | undefined
  /** Only events at or after this time (ms since the epoch). */
  since?: number | undefined
  /** Only events before this time (ms since the epoch). */
  until?: number | undefined
  /** At most this many (1 to 1,000; 100 when absent). */
  limit?: number | undefined
}

/**
 * The events that rules' `store` actions keep, by table name: appended,
 * read back newest first by key and time range, and forgotten after their
 * time to live.
 */
export interface EventLog {
  /**
   * Appends an event; resolves once it is durable. An event whose data
   * cannot be written as JSON is refused, and fails no other append.
   */
  append(event: NewEvent): Promise<void>
  /** Newest first. Expired events are never returned, swept or not. */
  query(table: string, query?: EventQuery): Promise<StoredEvent[]>
  /** Deletes expired events; resolves with how many. */
  sweepExpired(now?: number): Promise<number>
  /** Makes every append asked for so far durable now (called at shutdown). */
  flush(): Promise<void>
  /**
   * The most rows a table keeps when an append names no `maxRows` (0, the
   * start: no limit), and where to report the rows deleted to keep to it.
   * A table past its limit loses its oldest rows (by timestamp) as the
   * append that took it past is written, in the same atomic step.
   */
  setRowLimit(maxRows: number, trimmed?: (table: string, rows: number) => void): void
  /** How many rows each table holds (expired ones not yet swept included), of the tables this log knows of. */
  rowCounts(): Promise<Map<string, number>>
}

/**
 * An event's data as the stores keep it, JSON; throws a StoreError that
 * says why when the data cannot be written so (a cycle, a BigInt, depth).
 */
export function eventDataJson(event: NewEvent): string {
  if (event.dataJson !== undefined) return event.dataJson
  try {
    return JSON.stringify(event.data ?? null)
  } catch (err) {
    const why = err instanceof RangeError ? 'its data is nested too deeply to be written as JSON' : `its data cannot be written as JSON (${(err as Error).message})`
    throw new StoreError(`cannot store the event in table ${event.table}: ${why}`, { cause: err })
  }
}
