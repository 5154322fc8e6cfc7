import type { Redis } from 'ioredis'
import { randomUUID } from 'node:crypto'
import type { FlushResult } from '../routes/route-cache.js'

export interface RouteFlushOptions {
  /** The caller's connection (it stays the caller's); the subscriber is a duplicate of it. */
  redis: Redis
  keyPrefix: string
  nodeId: string
  /** Drops this node's cached routes and reads them again; resolves with the version read. */
  reread(route: string | null): Promise<number>
  /** The ids of the nodes alive now: those a flush waits for. */
  liveNodes(): Promise<string[]>
  /** How long a flush waits for the nodes' answers. */
  timeoutMs: number
  onError?: (err: Error) => void
}

export interface RouteFlush {
  /** Resolves once subscribed. */
  readonly ready: Promise<void>
  /** Asks every node to read its routes again; resolves once every live node confirmed, or after timeoutMs with those that did not. */
  request(route: string | null): Promise<FlushResult>
  close(): Promise<void>
}

interface Pending {
  waitingFor: Set<string>
  confirmed: Map<string, number>
  done: () => void
}

/**
 * The emergency flush of the nodes' route caches, over Redis. A request is
 * published on `${keyPrefix}routes:flush` with an id; every node subscribed
 * (the asking one too) reads its routes again, then writes its id and the
 * version it read into the hash `${keyPrefix}routes:flush:{id}` (kept a
 * minute) and says so on `${keyPrefix}routes:flushed`. The asking node counts
 * the answers against the nodes alive when it asked; at the timeout it reads
 * the hash once more, for an answer whose notice it missed.
 */
export function openRouteFlush(options: RouteFlushOptions): RouteFlush {
  const { redis, keyPrefix, nodeId, timeoutMs } = options
  const onError = options.onError ?? (() => {})
  const requests = `${keyPrefix}routes:flush`
  const answers = `${keyPrefix}routes:flushed`
  const answersOf = (id: string) => `${keyPrefix}routes:flush:${id}`
  const pending = new Map<string, Pending>()
  const name = redis.options.connectionName
  const subscriber = redis.duplicate({ enableAutoPipelining: false, ...(name ? { connectionName: `${name}-flush` } : {}) })
  let closed = false

  const answer = async (id: string, route: string | null) => {
    try {
      const version = await options.reread(route)
      await redis.multi()
        .hset(answersOf(id), nodeId, String(version))
        .pexpire(answersOf(id), 60_000)
        .publish(answers, JSON.stringify({ id, node: nodeId, version }))
        .exec()
    } catch (err) {
      // No answer: the asking node names this one as missing.
      onError(err as Error)
    }
  }

  const confirmed = (id: string, node: string, version: number) => {
    const p = pending.get(id)
    if (!p) return
    p.confirmed.set(node, version)
    if ([...p.waitingFor].every((n) => p.confirmed.has(n))) p.done()
  }

  subscriber.on('message', (channel: string, message: string) => {
    if (closed) return
    let m: { id?: unknown; route?: unknown; node?: unknown; version?: unknown }
    try {
      m = JSON.parse(message) as typeof m
    } catch {
      return onError(new Error(`a route flush message on ${channel} is not JSON: ${message.slice(0, 200)}`))
    }
    if (typeof m.id !== 'string') return
    if (channel === requests) void answer(m.id, typeof m.route === 'string' ? m.route : null)
    else if (channel === answers && typeof m.node === 'string' && typeof m.version === 'number') confirmed(m.id, m.node, m.version)
  })
  subscriber.on('error', onError)
  const ready = subscriber.subscribe(requests, answers).then(() => undefined)
  ready.catch(onError)

  return {
    ready,
    async request(route) {
      const id = randomUUID()
      const waitingFor = new Set(await options.liveNodes())
      waitingFor.add(nodeId)
      const p: Pending = { waitingFor, confirmed: new Map(), done: () => {} }
      const finished = new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, timeoutMs)
        p.done = () => {
          clearTimeout(timer)
          resolve()
        }
      })
      pending.set(id, p)
      try {
        await redis.publish(requests, JSON.stringify({ id, route, from: nodeId }))
        await finished
        if (![...waitingFor].every((n) => p.confirmed.has(n))) {
          const written = await redis.hgetall(answersOf(id)).catch(() => ({}) as Record<string, string>)
          for (const [node, version] of Object.entries(written)) p.confirmed.set(node, Number(version))
        }
      } finally {
        pending.delete(id)
      }
      return {
        route,
        confirmed: [...p.confirmed].map(([node, version]) => ({ id: node, version })).sort((a, b) => a.id.localeCompare(b.id)),
        missing: [...waitingFor].filter((n) => !p.confirmed.has(n)).sort(),
      }
    },
    async close() {
      closed = true
      for (const p of pending.values()) p.done()
      try {
        await subscriber.quit()
      } catch {
        subscriber.disconnect()
      }
    },
  }
}
