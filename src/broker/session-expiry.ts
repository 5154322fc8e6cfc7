import type { Aedes } from 'aedes'
import type { Logger } from 'pino'
import { Counter, type Registry } from 'prom-client'
import type { SessionOwnerStore } from '../storage/session-owner-store.js'
import type { ExpiredSession, SessionStore } from '../storage/session-store.js'
import { publishLifecycleEvent } from './lifecycle-events.js'
import type { Limits } from './limits.js'

/** Sessions expired per call to the store: one SQLite write, or one Redis script, holds at most this many. */
const BATCH = 100

/** The longest wait between sweeps: a session outlives its expiry by at most this much. */
const MAX_INTERVAL_MS = 60_000

export interface SessionExpiryDeps {
  sessions: Pick<SessionStore, 'expireSessions'>
  /** The client ids' bindings to their users, if the broker keeps them. */
  owners?: Pick<SessionOwnerStore, 'forget'> | undefined
  limits: Limits
  aedes: Aedes
  /** The node's id, which the events carry. */
  nodeId: string
  log: Logger
  registry: Registry
}

/** How often to sweep for `expiry` ms: every minute, and twice per expiry when that is shorter. */
export function sweepInterval(expiry: number): number {
  return Math.min(MAX_INTERVAL_MS, Math.max(250, Math.floor(expiry / 2)))
}

/**
 * `limits.sessionExpiry`: sweeps the session store for persistent sessions
 * whose client has been away longer than that, and removes them (Aedes
 * keeps them, and queues for them, forever: aedes#599). For each,
 * the client id's binding to its user goes too, and
 * `$events/sessions/expired/{clientId}` is published.
 *
 * The store picks and removes the sessions in one atomic step per batch
 * (see SessionStore.expireSessions): of the nodes of a cluster sweeping at
 * once, one expires each session and reports it. A sweep goes batch by
 * batch, each awaited, so it never holds the event loop for long; a sweep
 * still running when the next is due lets it pass.
 */
export class SessionExpiry {
  readonly #deps: SessionExpiryDeps
  readonly #log: Logger
  readonly #expired: Counter
  #timer: NodeJS.Timeout | undefined
  #interval = 0
  #sweeping: Promise<number> | undefined
  #closed = false

  constructor(deps: SessionExpiryDeps) {
    this.#deps = deps
    this.#log = deps.log.child({ module: 'sessions' })
    this.#expired = new Counter({
      name: 'switchyard_sessions_expired_total',
      help: 'Persistent sessions removed because their client stayed away longer than limits.sessionExpiry',
      registers: [deps.registry],
    })
    deps.limits.onUpdate(() => this.#schedule())
  }

  /** Sweeps from now on, at the interval the configured expiry asks for (again at each reload). */
  start(): void {
    this.#schedule()
  }

  /** Stops sweeping; resolves once a sweep under way is done. */
  async close(): Promise<void> {
    this.#closed = true
    clearInterval(this.#timer)
    this.#timer = undefined
    await this.#sweeping
  }

  /** Expires every session due now, batch by batch; resolves with how many. */
  sweep(): Promise<number> {
    this.#sweeping ??= this.#sweep().finally(() => (this.#sweeping = undefined))
    return this.#sweeping
  }

  #schedule(): void {
    if (this.#closed) return
    const expiry = this.#deps.limits.config.sessionExpiry
    const interval = expiry === 'never' ? 0 : sweepInterval(expiry)
    if (interval === this.#interval && (this.#timer !== undefined || interval === 0)) return
    clearInterval(this.#timer)
    this.#timer = undefined
    this.#interval = interval
    if (interval > 0) this.#timer = setInterval(() => void this.sweep(), interval).unref()
  }

  async #sweep(): Promise<number> {
    let total = 0
    try {
      for (;;) {
        const expiry = this.#deps.limits.config.sessionExpiry
        if (expiry === 'never' || this.#closed) break
        const expired = await this.#deps.sessions.expireSessions(expiry, BATCH)
        for (const session of expired) await this.#report(session, expiry)
        total += expired.length
        if (expired.length < BATCH) break
      }
    } catch (err) {
      this.#log.warn({ err }, 'could not expire persistent sessions; trying again at the next sweep')
    }
    if (total > 0) this.#log.info({ sessions: total }, 'expired persistent sessions whose clients stayed away longer than limits.sessionExpiry')
    return total
  }

  /**
   * The binding of the session's client id goes, then the event. Only the
   * binding its last connection made goes: a client that reconnected since
   * the store removed the session made a new one, for its new session. A
   * session whose connection the store does not know (its process stopped
   * while the client was connected) drops whatever binding there is.
   */
  async #report(session: ExpiredSession, expiry: number): Promise<void> {
    const { owners, aedes, nodeId } = this.#deps
    this.#expired.inc()
    let username: string | null = session.owner?.startsWith('user:') ? session.owner.slice('user:'.length) : null
    try {
      const binding = await owners?.forget(session.clientId, session.connection)
      if (binding) username = binding.username
    } catch (err) {
      this.#log.warn({ err, clientId: session.clientId }, 'could not release the client id of an expired session')
    }
    this.#log.debug({ clientId: session.clientId, disconnectedAt: session.disconnectedAt }, 'persistent session expired')
    publishLifecycleEvent(aedes, `$events/sessions/expired/${session.clientId}`, {
      clientId: session.clientId,
      username,
      timestamp: Date.now(),
      eventType: 'expired',
      node: nodeId,
      disconnectedAt: session.disconnectedAt,
      expiry,
    }, this.#log)
  }
}
