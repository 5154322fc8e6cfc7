import type { Redis } from 'ioredis'
import { routeKeys } from './route-state.js'

/** How long a failed read of the version waits before the next. */
const RETRY_MS = 1000

/** What a node hears of a change to the routes (or to a rule switch, saved with them). */
export interface RouteChange {
  /** The version after the change; the routes as read at this version or a later one are up to date. */
  version: number
  /**
   * The route changed; null when this is not one change's notice but the
   * version read once subscribed (see watchRouteChanges): any route may
   * have changed. Null too for a rule's notice, which names `rule`.
   */
  route: string | null
  /** The rule switched, when the change is a rule's. */
  rule?: string
}

export interface RouteWatch {
  /** Resolves once subscribed and the version read the first time (and onChange told it). */
  readonly ready: Promise<void>
  /** Unsubscribes and closes the subscriber connection. */
  close(): Promise<void>
}

export interface WatchOptions {
  /** Told of the subscriber's connection errors and failed reads; it reconnects on its own. */
  onError?: (err: Error) => void
}

/**
 * Tells `onChange` of every change to the routes and rule switches that
 * RedisRouteStateStore makes, on any node: the notices on `${keyPrefix}routes`, heard on a
 * connection of its own (a subscribed connection can do nothing else),
 * made with `redis.duplicate()`.
 *
 * Pub/sub keeps nothing for a subscriber that is away: the notices sent
 * while its connection was down, or before it first subscribed, are lost.
 * So each time it has subscribed (at the start, and after every reconnect)
 * it reads the version, on `redis`, and tells it with `route: null`; a
 * route table that holds an older version reads the routes again. The
 * version read and the notices come on two connections and may arrive out
 * of order: compare each version with the one held, and never go back.
 *
 * `redis` stays the caller's; `close()` closes only the subscriber.
 */
export function watchRouteChanges(redis: Redis, keyPrefix: string, onChange: (change: RouteChange) => void, options: WatchOptions = {}): RouteWatch {
  const keys = routeKeys(keyPrefix)
  const onError = options.onError ?? (() => {})
  const name = redis.options.connectionName
  const subscriber = redis.duplicate({
    lazyConnect: true,
    // Subscribed again by hand on 'ready' below, so as to know when it is done.
    autoResubscribe: false,
    enableAutoPipelining: false,
    ...(name ? { connectionName: `${name}-routes` } : {}),
  })
  let closed = false
  let resolveReady!: () => void
  const ready = new Promise<void>((resolve) => (resolveReady = resolve))

  subscriber.on('message', (channel: string, message: string) => {
    if (closed || channel !== keys.channel) return
    let notice: { version?: unknown; route?: unknown; rule?: unknown }
    try {
      notice = JSON.parse(message) as typeof notice
    } catch {
      return onError(new Error(`a route change notice on ${keys.channel} is not JSON: ${message.slice(0, 200)}`))
    }
    if (typeof notice.version !== 'number') return
    if (typeof notice.route === 'string') onChange({ version: notice.version, route: notice.route })
    else if (typeof notice.rule === 'string') onChange({ version: notice.version, route: null, rule: notice.rule })
  })
  subscriber.on('error', onError)
  /** Subscribes, then reads the version: a change made before the subscription is in that version, one after it in a notice. */
  const subscribed = async () => {
    try {
      await subscriber.subscribe(keys.channel)
    } catch (err) {
      // Lost with the connection: the next 'ready' subscribes again.
      if (!closed) onError(err as Error)
      return
    }
    while (!closed) {
      try {
        const version = await redis.get(keys.version)
        if (closed) return
        onChange({ version: Number(version ?? 0), route: null })
        resolveReady()
        return
      } catch (err) {
        // The caller's connection failed while this one is subscribed: no
        // 'ready' will come to try again.
        onError(err as Error)
        await new Promise((resolve) => setTimeout(resolve, RETRY_MS).unref())
      }
    }
  }
  subscriber.on('ready', () => void subscribed())
  subscriber.connect().catch((err: unknown) => {
    if (!closed) onError(err as Error)
  })

  return {
    ready,
    async close() {
      closed = true
      try {
        await subscriber.quit()
      } catch {
        subscriber.disconnect()
      }
    },
  }
}
