import type { Logger } from 'pino'

interface Bucket {
  tokens: number
  at: number
  /** When this client's breach was last logged. */
  loggedAt: number
}

/** Buckets kept at most; past it the ones refilled to the brim (idle clients) are dropped. */
const MAX_BUCKETS = 50_000
const LOG_EVERY_MS = 60_000

export interface QuotaLimits {
  /** The default rate, per client per second; 0: none. */
  readonly rate: number
  /** Counts a breach. */
  count(): void
}

/**
 * Keeps one client's publishes from taking every function invocation: a
 * token bucket per client (and per action with a rate of its own), `rate`
 * tokens a second holding one second's worth. One client sending 900
 * `chat/join` a second, within its publish rate, held everyone's backlog
 * back 23 s without it: the worker pool and the outbox served it first.
 * A breach is counted each time and logged once a minute per client.
 */
export class InvocationQuota {
  readonly #buckets = new Map<string, Bucket>()
  readonly #limits: () => QuotaLimits
  readonly #log: Logger

  /** `limits` is read at each call: a reloaded config applies at once. */
  constructor(limits: () => QuotaLimits, log: Logger) {
    this.#limits = limits
    this.#log = log
  }

  /** Takes one invocation for `clientId` under `key` at `rate` (the default when undefined); false past the quota. */
  take(clientId: string | undefined, key: string, rate?: number): boolean {
    const limits = this.#limits()
    const perSecond = rate ?? limits.rate
    // Events no client published ($events, HTTP, the router's own) are not any client's.
    if (clientId === undefined || perSecond === 0) return true
    const now = performance.now()
    const id = `${key}\u0000${clientId}`
    let bucket = this.#buckets.get(id)
    if (!bucket) {
      if (this.#buckets.size >= MAX_BUCKETS) this.#sweep(now)
      bucket = { tokens: perSecond, at: now, loggedAt: -Infinity }
      this.#buckets.set(id, bucket)
    } else {
      bucket.tokens = Math.min(perSecond, bucket.tokens + ((now - bucket.at) * perSecond) / 1000)
      bucket.at = now
    }
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1
      return true
    }
    limits.count()
    if (now - bucket.loggedAt >= LOG_EVERY_MS) {
      bucket.loggedAt = now
      this.#log.warn({ clientId, action: key, perSecond }, 'a client\'s publishes are past their invocation quota; invocations refused (logged once a minute per client)')
    }
    return false
  }

  #sweep(now: number): void {
    for (const [id, bucket] of this.#buckets) {
      // A second or more idle: its bucket is full again, and a new one is the same.
      if (now - bucket.at >= 1000) this.#buckets.delete(id)
    }
    if (this.#buckets.size >= MAX_BUCKETS) this.#buckets.clear()
  }
}
