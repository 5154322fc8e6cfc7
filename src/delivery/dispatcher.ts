import type { Logger } from 'pino'
import { Counter, Gauge, type Registry } from 'prom-client'
import { send, type DurableHttpRequest } from '../actions/http.js'
import { ActionError } from '../errors.js'
import type { Lineage } from '../rules/lineage.js'
import type { RouteTable } from '../routes/route-table.js'
import { targetAddress, type TargetConfig } from '../routes/schema.js'
import type { Delivery, DeadLetter, Outbox } from './outbox.js'
import { backoff, DEFAULT_RETRY, type RetryPolicy } from './retry.js'

/** A function as the dispatcher needs it; the function registry provides these. */
export interface Invocable {
  readonly retry?: RetryPolicy | undefined
  invoke(event: unknown, context: InvocationContext): Promise<unknown>
}

export interface InvocationContext {
  clientId: string | undefined
  topic: string
  rule: string | undefined
  requestId: string
}

export interface DispatcherDeps {
  outbox: Outbox
  routes: RouteTable
  functions: { get(name: string): Invocable | undefined }
  /** Runs an invocation; lets the caller tie what the function publishes to the delivery's lineage. */
  invoke?(fn: Invocable, event: unknown, context: InvocationContext, lineage: Lineage): Promise<unknown>
  /** Publishes on the router's behalf, one hop further than `lineage`. */
  publish(topic: string, payload: Buffer, qos: 0 | 1 | 2, lineage: Lineage): Promise<void>
  /** Called once a delivery is dead-lettered (the rule's errorAction hangs here). */
  onDeadLetter?(letter: DeadLetter, delivery: Delivery, error: Error): void
  log: Logger
  registry: Registry
  concurrency?: number
  defaultRetry?: RetryPolicy
}

// A chain of routes longer than this is refused (cycles are refused when
// routes are loaded; this guards against a change racing a delivery).
const MAX_ROUTE_DEPTH = 16

/**
 * Delivers what the outbox holds, at least once: resolves routes at the
 * moment of delivery (so a route repointed live applies to events already
 * waiting), runs the target, and retries with backoff until it succeeds or
 * the retry policy gives up, when the delivery becomes a dead letter.
 */
export class Dispatcher {
  readonly #inFlight = new Set<number>()
  /**
   * Routes whose released backlog is being delivered: one delivery at a
   * time each, oldest first, until none is left. A delivery that fails goes
   * back to wait for its retry, and the next one goes on.
   */
  readonly #inOrder = new Set<string>()
  readonly #inOrderBusy = new Set<string>()
  readonly #concurrency: number
  readonly #defaultRetry: RetryPolicy
  readonly #log: Logger
  #timer: NodeJS.Timeout | undefined
  #scheduled = false
  #closed = false
  #idle: Array<() => void> = []
  readonly #delivered: Counter
  readonly #failed: Counter
  readonly #dead: Counter

  constructor(private readonly deps: DispatcherDeps) {
    this.#concurrency = deps.concurrency ?? 64
    this.#defaultRetry = deps.defaultRetry ?? DEFAULT_RETRY
    this.#log = deps.log.child({ module: 'delivery' })
    const inFlight = this.#inFlight
    new Gauge({ name: 'switchyard_deliveries_in_flight', help: 'Deliveries running now', registers: [deps.registry], collect() { this.set(inFlight.size) } })
    this.#delivered = new Counter({ name: 'switchyard_deliveries_total', help: 'Deliveries that succeeded', labelNames: ['target'], registers: [deps.registry] })
    this.#failed = new Counter({ name: 'switchyard_delivery_failures_total', help: 'Delivery attempts that failed', labelNames: ['target'], registers: [deps.registry] })
    this.#dead = new Counter({ name: 'switchyard_dead_letters_total', help: 'Deliveries moved to the dead letters', labelNames: ['target'], registers: [deps.registry] })
  }

  /** Looks for due deliveries now (after a record, a release or a replay). */
  wake(): void {
    if (this.#closed || this.#scheduled) return
    this.#scheduled = true
    setImmediate(() => {
      this.#scheduled = false
      this.#tick()
    })
  }

  /** Delivers what was held for `target` (a `route:` address), in order. */
  released(target: string): void {
    this.#inOrder.add(target)
    this.wake()
  }

  /** Stops taking deliveries and waits (up to `ms`) for those running; the rest stay in the outbox. */
  async close(ms = 2000): Promise<void> {
    this.#closed = true
    clearTimeout(this.#timer)
    if (this.#inFlight.size === 0) return
    await Promise.race([new Promise<void>((r) => this.#idle.push(r)), new Promise((r) => setTimeout(r, ms).unref())])
  }

  #tick(): void {
    if (this.#closed) return
    clearTimeout(this.#timer)
    this.#timer = undefined
    let free = this.#concurrency - this.#inFlight.size
    if (free > 0) {
      const now = Date.now()
      for (const target of this.#inOrder) {
        if (free === 0) break
        if (this.#inOrderBusy.has(target)) continue
        const first = this.deps.outbox.firstOf(target)
        if (!first) {
          this.#inOrder.delete(target)
          continue
        }
        if (first.nextAt > now || this.#inFlight.has(first.id)) continue
        this.#inOrderBusy.add(target)
        free--
        void this.#run(first).finally(() => this.#inOrderBusy.delete(target))
      }
      const ids = this.deps.outbox.dueIds(now, free + this.#inFlight.size, [...this.#inOrder]).filter((id) => !this.#inFlight.has(id)).slice(0, free)
      for (const id of ids) {
        const delivery = this.deps.outbox.get(id)
        if (delivery) void this.#run(delivery)
      }
      if (ids.length === free) return // more may be due: the next completion wakes us
    }
    const next = this.deps.outbox.nextDueAt()
    if (next !== undefined) {
      this.#timer = setTimeout(() => this.#tick(), Math.max(10, next - Date.now()))
      this.#timer.unref()
    }
  }

  async #run(delivery: Delivery): Promise<void> {
    this.#inFlight.add(delivery.id)
    try {
      const resolved = this.#resolve(delivery)
      if (resolved) await this.#attempt(resolved)
    } catch (err) {
      this.#log.error({ err, delivery: delivery.id }, 'delivery failed unexpectedly; it stays in the outbox')
    } finally {
      this.#inFlight.delete(delivery.id)
      if (this.#inFlight.size === 0) for (const resolve of this.#idle.splice(0)) resolve()
      this.wake()
    }
  }

  /** Follows routes to a concrete target; undefined when the delivery was held, split or dead-lettered. */
  #resolve(delivery: Delivery): Delivery | undefined {
    const { outbox, routes } = this.deps
    let d = delivery
    for (let depth = 0; d.target.startsWith('route:'); depth++) {
      const name = d.target.slice('route:'.length)
      if (depth >= MAX_ROUTE_DEPTH || !routes.has(name)) {
        this.#deadLetter(d, new ActionError(depth >= MAX_ROUTE_DEPTH ? `route chain longer than ${MAX_ROUTE_DEPTH} at ${name}` : `route ${name} does not exist`, false))
        return undefined
      }
      if (routes.isHeld(name)) {
        outbox.hold(d.id)
        return undefined
      }
      const picks = routes.pick(name)!
      if (picks.length > 1) {
        outbox.split(d, picks.map((t) => ({ target: targetAddress(t), spec: t })), name)
        return undefined
      }
      const target = picks[0]!
      outbox.retarget(d.id, targetAddress(target), target, name)
      d = { ...d, target: targetAddress(target), spec: target, via: name }
    }
    return d
  }

  async #attempt(d: Delivery): Promise<void> {
    try {
      await this.#execute(d)
    } catch (err) {
      this.#failed.inc({ target: d.target })
      this.#afterFailure(d, err instanceof Error ? err : new Error(String(err)))
      return
    }
    this.deps.outbox.complete(d.id)
    this.#delivered.inc({ target: d.target })
  }

  async #execute(d: Delivery): Promise<void> {
    const ctx = d.context
    const lineage: Lineage = { hops: ctx.hops, fromLoop: ctx.fromLoop }
    if (d.target.startsWith('function:')) {
      const name = d.target.slice('function:'.length)
      const fn = this.deps.functions.get(name)
      if (!fn) throw new ActionError(`function ${name} does not exist`, false)
      await this.#invoke(name, fn, d, lineage)
    } else if (d.target.startsWith('url:') && isRenderedRequest(d.spec)) {
      // A rule's durable http action: the request as the rule rendered it.
      const { method, url, headers, body, timeout } = d.spec
      await send({ method, url, headers, body }, timeout)
    } else if (d.target.startsWith('url:')) {
      const spec = d.spec as Extract<TargetConfig, { url: string }>
      await send({
        method: spec.method,
        url: spec.url,
        headers: { 'content-type': 'application/json', ...spec.headers },
        body: JSON.stringify({ event: d.event, context: publicContext(d) }),
      }, spec.timeout)
    } else if (d.target.startsWith('topic:')) {
      const spec = d.spec as Extract<TargetConfig, { topic: string }>
      await this.deps.publish(spec.topic, Buffer.from(JSON.stringify(d.event)), spec.qos, lineage)
    } else {
      throw new ActionError(`unknown target ${d.target}`, false)
    }
  }

  async #invoke(name: string, fn: Invocable, d: Delivery, lineage: Lineage): Promise<void> {
    const ctx = d.context
    const base = { functionName: name, requestId: ctx.requestId, rule: ctx.rule, clientId: ctx.clientId, topic: ctx.topic, attempt: d.attempts + 1 }
    const event = (type: string, extra: Record<string, unknown> = {}) =>
      this.deps.publish(`$events/functions/${name}/${type}`, Buffer.from(JSON.stringify({ ...base, eventType: type, timestamp: Date.now(), ...extra })), 0, lineage)
        .catch((err: unknown) => this.#log.debug({ err }, 'could not publish a function event'))
    void event('invoking')
    const started = performance.now()
    try {
      const context: InvocationContext = { clientId: ctx.clientId ?? undefined, topic: ctx.topic, rule: ctx.rule ?? undefined, requestId: ctx.requestId }
      await (this.deps.invoke ? this.deps.invoke(fn, d.event, context, lineage) : fn.invoke(d.event, context))
    } catch (err) {
      void event('failed', { durationMs: Math.round(performance.now() - started), error: (err as Error).message })
      throw err
    }
    void event('invoked', { durationMs: Math.round(performance.now() - started) })
  }

  #afterFailure(d: Delivery, err: Error): void {
    const policy = this.#policyFor(d)
    const attempts = d.attempts + 1
    const retryable = err instanceof ActionError ? err.retryable : true
    const tooOld = Date.now() - d.createdAt >= policy.maxAge
    if (!retryable || attempts >= policy.attempts || tooOld) {
      this.#deadLetter({ ...d, attempts }, err)
      return
    }
    const wait = backoff(policy, attempts)
    this.deps.outbox.retryLater(d.id, attempts, Date.now() + wait, err.message)
    this.#log.debug({ delivery: d.id, target: d.target, attempts, wait, err: err.message }, 'delivery failed; will retry')
  }

  #policyFor(d: Delivery): RetryPolicy {
    if (isRenderedRequest(d.spec) && d.spec.retry) return d.spec.retry
    if (d.target.startsWith('function:')) {
      const own = this.deps.functions.get(d.target.slice('function:'.length))?.retry
      if (own) return own
    }
    return (d.via ? this.deps.routes.retryOf(d.via) : undefined) ?? this.#defaultRetry
  }

  #deadLetter(d: Delivery, err: Error): void {
    const id = this.deps.outbox.deadLetter(d, err.message)
    this.#dead.inc({ target: d.target })
    const label = deadLetterLabel(d)
    this.#log.warn({ delivery: d.id, deadLetter: id, target: d.target, attempts: d.attempts, err: err.message }, 'delivery dead-lettered')
    const letter: DeadLetter = { ...d, id, deliveryId: d.id, failedAt: Date.now(), error: err.message, lastError: err.message }
    const body = { id, target: d.target, via: d.via, attempts: d.attempts, error: err.message, event: d.event, context: publicContext(d), timestamp: letter.failedAt, eventType: 'deadletter' }
    void this.deps.publish(`$events/deadletter/${label}`, Buffer.from(JSON.stringify(body)), 1, { hops: d.context.hops, fromLoop: d.context.fromLoop })
      .catch((e: unknown) => this.#log.debug({ err: e }, 'could not publish a dead-letter event'))
    this.deps.onDeadLetter?.(letter, d, err)
  }
}

function isRenderedRequest(spec: unknown): spec is DurableHttpRequest {
  return typeof spec === 'object' && spec !== null && (spec as { rendered?: unknown }).rendered === true
}

/** The context a target sees: no internal lineage. */
function publicContext(d: Delivery) {
  const { clientId, topic, rule, requestId, timestamp } = d.context
  return { clientId, topic, rule, requestId, timestamp }
}

/** One topic level naming the target: the function, else the route it came through, else its kind. */
function deadLetterLabel(d: Delivery): string {
  if (d.target.startsWith('function:')) return d.target.slice('function:'.length)
  if (d.target.startsWith('route:')) return d.target.slice('route:'.length)
  return d.via ?? d.target.slice(0, d.target.indexOf(':'))
}
