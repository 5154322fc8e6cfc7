import { Counter, Gauge, type Registry } from 'prom-client'
import type { EventLog } from '../storage/event-log.js'
import type { QuotaReport, SessionQuotas, SessionStore, SessionUsage } from '../storage/session-store.js'
import type { LimitsConfig } from './limits-schema.js'
import type { Limits } from './limits.js'

/** The stores the quotas apply to. */
export interface QuotaStores {
  sessions: Pick<SessionStore, 'setQuotas' | 'usage'>
  events: Pick<EventLog, 'setRowLimit' | 'rowCounts'>
}

/** The storage limits as `switchyard_limit{limit}` reports them, read from the config. */
const CONFIGURED: ReadonlyArray<[string, (c: LimitsConfig) => number]> = [
  ['retained_messages', (c) => c.retained.maxMessages],
  ['retained_bytes', (c) => c.retained.maxBytes],
  ['retained_messages_per_client', (c) => c.retained.maxMessagesPerClient],
  ['retained_bytes_per_client', (c) => c.retained.maxBytesPerClient],
  ['sessions_per_user', (c) => c.sessions.maxPerUser],
  ['session_messages', (c) => c.sessions.maxMessages],
  ['session_bytes', (c) => c.sessions.maxBytes],
  ['subscriptions_per_client', (c) => c.subscriptions.maxPerClient],
  ['store_rows', (c) => c.store.maxRows],
]

/** The session store's usage as gauges: name, help, value. */
const USAGE: ReadonlyArray<readonly [string, string, (u: SessionUsage) => number]> = [
  ['switchyard_retained_messages', 'Retained messages kept (limits.retained.maxMessages)', (u) => u.retainedMessages],
  ['switchyard_retained_bytes', 'Bytes of retained messages kept, as stored (limits.retained.maxBytes)', (u) => u.retainedBytes],
  ['switchyard_persistent_sessions', 'Persistent sessions recorded (limits.sessions.maxPerUser per user)', (u) => u.sessions],
  ['switchyard_session_queue_messages', 'QoS 1/2 messages queued for persistent sessions, all together (limits.sessions.maxMessages each)', (u) => u.queuedMessages],
  ['switchyard_session_queue_bytes', 'Bytes queued for persistent sessions, as stored, all together (limits.sessions.maxBytes each)', (u) => u.queuedBytes],
]

export function sessionQuotas(config: LimitsConfig): SessionQuotas {
  return {
    retained: { ...config.retained },
    queue: { maxMessages: config.sessions.maxMessages, maxBytes: config.sessions.maxBytes },
  }
}

/**
 * The storage quotas of `limits:` handed to the stores that enforce them
 * (again at each reload), what the stores report counted and logged through
 * Limits, and what the stores hold in `/metrics`: gauges read at each scrape
 * beside `switchyard_limit{limit}`, the configured values.
 */
export class StorageQuotas {
  readonly #limits: Limits
  readonly #dropped: Counter
  readonly #trimmed: Counter
  #stores: QuotaStores | undefined
  /** The scrape's one read of the session store's usage, shared by its gauges. */
  #usage: Promise<SessionUsage> | undefined

  constructor(limits: Limits, registry: Registry) {
    this.#limits = limits
    this.#dropped = new Counter({
      name: 'switchyard_session_messages_dropped_total',
      help: 'QoS 1/2 messages dropped, oldest first, from persistent sessions\' queues past limits.sessions.maxMessages or maxBytes',
      labelNames: ['limit'],
      registers: [registry],
    })
    for (const limit of ['session_messages', 'session_bytes']) this.#dropped.inc({ limit }, 0)
    this.#trimmed = new Counter({
      name: 'switchyard_store_rows_trimmed_total',
      help: 'Rows of store action tables deleted, oldest first, past their maxRows (limits.store.maxRows)',
      labelNames: ['table'],
      registers: [registry],
    })
    // prom-client calls collect() on the gauge: `this` is the gauge there.
    const quotas = this
    for (const [name, help, read] of USAGE) {
      new Gauge({
        name,
        help,
        registers: [registry],
        async collect() {
          const usage = await quotas.#readUsage()
          if (usage) this.set(read(usage))
        },
      })
    }
    new Gauge({
      name: 'switchyard_store_rows',
      help: 'Rows in each table of the store action (limits.store.maxRows)',
      labelNames: ['table'],
      registers: [registry],
      async collect() {
        const counts = await quotas.#stores?.events.rowCounts().catch(() => undefined)
        if (!counts) return
        this.reset()
        for (const [table, n] of counts) this.set({ table }, n)
      },
    })
    new Gauge({
      name: 'switchyard_limit',
      help: 'The configured storage limits (0: none); their usage is in switchyard_retained_*, switchyard_persistent_sessions, switchyard_session_queue_* and switchyard_store_rows',
      labelNames: ['limit'],
      registers: [registry],
      collect() {
        for (const [limit, read] of CONFIGURED) this.set({ limit }, read(quotas.#limits.config))
      },
    })
    limits.onUpdate(() => this.#apply())
  }

  /** Hands the quotas to the stores, now and at each reload. */
  attach(stores: QuotaStores): void {
    this.#stores = stores
    this.#apply()
  }

  #apply(): void {
    const stores = this.#stores
    if (!stores) return
    const config = this.#limits.config
    stores.sessions.setQuotas(sessionQuotas(config), this.#report)
    stores.events.setRowLimit(config.store.maxRows, (table, n) => {
      this.#trimmed.inc({ table }, n)
      this.#limits.breached('store_rows', `table ${table} is at its limit of rows: its oldest rows are deleted as new ones are stored`, { table, deleted: n })
    })
  }

  readonly #report: QuotaReport = {
    retainedRefused: (limit, topic, clientId) => {
      this.#limits.breached(limit, `retained message not kept: ${limitKey(limit)} (it was delivered to the subscribers connected now)`, { topic, clientId })
    },
    queueTrimmed: (clientId, limit, dropped) => {
      this.#dropped.inc({ limit }, dropped)
      this.#limits.breached(limit, `a persistent session's queue is full (${limitKey(limit)}): its oldest messages are dropped`, { clientId, dropped })
    },
  }

  #readUsage(): Promise<SessionUsage | undefined> {
    const stores = this.#stores
    if (!stores) return Promise.resolve(undefined)
    this.#usage ??= stores.sessions.usage().finally(() => {
      // Shared by the gauges of one scrape only.
      setImmediate(() => (this.#usage = undefined))
    })
    return this.#usage.catch(() => undefined)
  }
}

/** The config key of a limit, as the log names it. */
function limitKey(limit: string): string {
  switch (limit) {
    case 'retained_messages': return 'limits.retained.maxMessages reached'
    case 'retained_bytes': return 'limits.retained.maxBytes reached'
    case 'retained_messages_per_client': return 'the client holds limits.retained.maxMessagesPerClient'
    case 'retained_bytes_per_client': return 'the client holds limits.retained.maxBytesPerClient'
    case 'session_messages': return 'limits.sessions.maxMessages'
    case 'session_bytes': return 'limits.sessions.maxBytes'
    default: return limit
  }
}
