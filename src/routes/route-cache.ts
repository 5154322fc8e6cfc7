import type { Logger } from 'pino'
import type { RouteTable } from './route-table.js'

/** What a node hears of a change to the routes or a rule switch (see watchRouteChanges). */
export interface RouteNotice {
  /** The version after the change. */
  version: number
  /** The route changed; null for a rule's change, and for the version read after (re)subscribing: anything may have changed. */
  route: string | null
  /** The rule switched, for a rule's change. */
  rule?: string
}

/** How a flush ended: the nodes that read their routes again (and the version they read), and the live nodes that did not say so in time. */
export interface FlushResult {
  /** The route asked for; null for all. Every node reads all its routes again either way. */
  route: string | null
  confirmed: Array<{ id: string; version: number }>
  missing: string[]
}

export interface RouteCacheOptions {
  table: RouteTable
  /** The longest a change made elsewhere may go unseen: the table is read again at least this often. */
  ttlMs: number
  log: Logger
  /** Told the version after each read (the node's heartbeat reports it). */
  onRead?: (version: number) => void
}

/**
 * Keeps a node's RouteTable in step with the shared route state store. The
 * store's notices (pub/sub) bring a change within milliseconds, but pub/sub
 * loses what is sent while a node is cut off, so the table is also read
 * again after every (re)subscribe, and every `ttlMs` whatever happened: a
 * change is in force everywhere within the TTL at the latest.
 *
 * Reads never overlap: a read asked for while one runs waits for it, then
 * runs once for every caller that came meanwhile (the running read may have
 * started before their change).
 */
export class RouteCache {
  readonly #table: RouteTable
  readonly #ttlMs: number
  readonly #log: Logger
  readonly #onRead: (version: number) => void
  #running: Promise<number> | undefined
  #next: Promise<number> | undefined
  #timer: NodeJS.Timeout | undefined
  #failing = false

  constructor(options: RouteCacheOptions) {
    this.#table = options.table
    this.#ttlMs = options.ttlMs
    this.#log = options.log.child({ module: 'routes' })
    this.#onRead = options.onRead ?? (() => {})
  }

  /** The version of the routes in force on this node. */
  get version(): number {
    return this.#table.version
  }

  /** Starts reading the routes again every ttlMs. */
  start(): void {
    this.#timer ??= setInterval(() => void this.#quietly(), this.#ttlMs).unref()
  }

  /** A change notice: read the routes again unless the table holds that version already. */
  notice(notice: RouteNotice): void {
    const held = this.#table.version
    const one = notice.route !== null || notice.rule !== undefined
    if (one && notice.version <= held) return
    if (one && notice.version > held + 1) this.#log.debug({ held, version: notice.version }, 'route notices were missed: reading the routes again')
    void this.#quietly()
  }

  /**
   * Reads the routes now, even if the version did not move (an emergency
   * flush: what is cached is dropped); resolves with the version read.
   * Throws if the store cannot be read or what it holds cannot be applied.
   */
  read(): Promise<number> {
    if (!this.#running) return this.#run()
    this.#next ??= this.#running.catch(() => {}).then(() => {
      this.#next = undefined
      return this.#run()
    })
    return this.#next
  }

  close(): void {
    clearInterval(this.#timer)
  }

  #run(): Promise<number> {
    const running = this.#table.refresh().then((version) => {
      this.#onRead(version)
      return version
    }).finally(() => {
      if (this.#running === running) this.#running = undefined
    })
    this.#running = running
    return running
  }

  /** read(), with a failure logged once until a read succeeds again. */
  async #quietly(): Promise<void> {
    try {
      await this.read()
      if (this.#failing) this.#log.warn('the routes are read again')
      this.#failing = false
    } catch (err) {
      if (!this.#failing) this.#log.error({ err: (err as Error).message }, 'could not read the routes from the store; the routes in force stay')
      this.#failing = true
    }
  }
}
