import { randomUUID } from 'node:crypto'
import type { Logger } from 'pino'
import { Counter, Gauge, type Registry } from 'prom-client'
import { ActionError } from '../errors.js'
import type { FunctionTarget } from '../functions/function-target.js'
import { IdSet } from '../id-map.js'
import type { Publisher } from '../publisher/publisher.js'
import { DEFAULT_RETRY, backoff, type RetryPolicy } from '../retry.js'
import type { RouteTable } from '../routes/route-table.js'
import type { Claimant, DeadLetter, Delivery, OutboxStore } from '../storage/outbox-store.js'
import type { DeliveryStats } from './delivery-stats.js'
import { deadLetterLabel, deliverTo, formatTarget, isRenderedRequest, parseTarget, publicContext, targetOf, type Target } from './targets/index.js'

export interface DispatcherDeps {
  outbox: OutboxStore
  routes: RouteTable
  /** The functions in force now. */
  functions: { get(name: string): FunctionTarget | undefined }
  publisher: Publisher
  /** Told once a delivery is dead-lettered (a rule's errorAction hangs here). */
  onDeadLetter?(letter: DeadLetter, error: Error): void
  log: Logger
  registry: Registry
  /** This node's name; a claim is made in it with a token of this start. */
  nodeId?: string
  concurrency?: number
  defaultRetry?: RetryPolicy
  /** How long a claim on a delivery holds unless renewed. */
  leaseMs?: number
  /** Counts by target, for the console. */
  stats?: DeliveryStats
  /** The console's tracing: told of attempts at deliveries of traced messages. */
  tracer?: { delivered(trace: string, attempt: { target: string; via: string | null; ok: boolean; ms: number; error?: string }): void }
  /**
   * An outbox that other nodes share gets deliveries this dispatcher is not
   * woken for (another node's, left by its death): look at least this often.
   */
  pollMs?: number
}

// A chain of routes longer than this is refused (cycles are refused when
// routes are loaded; this guards against a change racing a delivery).
const MAX_ROUTE_DEPTH = 16
const DEFAULT_LEASE_MS = 60_000

/**
 * Delivers what the outbox holds, at least once: claims due deliveries
 * (with a lease it renews while they run), resolves routes at the moment of
 * delivery (so a route repointed live applies to events already waiting),
 * runs the target, and retries with backoff until it succeeds or the retry
 * policy gives up, when the delivery becomes a dead letter.
 */
export class Dispatcher {
  /** Deliveries this dispatcher has claimed and is running, by id. */
  readonly #running = new IdSet()
  readonly #claimant: Claimant
  readonly #concurrency: number
  readonly #defaultRetry: RetryPolicy
  readonly #log: Logger
  #timer: NodeJS.Timeout | undefined
  readonly #renewal: NodeJS.Timeout
  #ticking = false
  #again = false
  #closed = false
  #idle: Array<() => void> = []
  readonly #delivered: Counter
  readonly #failed: Counter
  readonly #dead: Counter

  constructor(private readonly deps: DispatcherDeps) {
    this.#concurrency = deps.concurrency ?? 64
    this.#defaultRetry = deps.defaultRetry ?? DEFAULT_RETRY
    this.#claimant = { worker: `${deps.nodeId ?? 'node'}/${randomUUID()}`, leaseMs: deps.leaseMs ?? DEFAULT_LEASE_MS }
    this.#log = deps.log.child({ module: 'delivery' })
    const running = this.#running
    new Gauge({ name: 'switchyard_deliveries_in_flight', help: 'Deliveries running now', registers: [deps.registry], collect() { this.set(running.size) } })
    this.#delivered = new Counter({ name: 'switchyard_deliveries_total', help: 'Deliveries that succeeded', labelNames: ['target'], registers: [deps.registry] })
    this.#failed = new Counter({ name: 'switchyard_delivery_failures_total', help: 'Delivery attempts that failed', labelNames: ['target'], registers: [deps.registry] })
    this.#dead = new Counter({ name: 'switchyard_dead_letters_total', help: 'Deliveries moved to the dead letters', labelNames: ['target'], registers: [deps.registry] })
    // Claims on what still runs are renewed well before their lease ends.
    this.#renewal = setInterval(() => this.#renew(), this.#claimant.leaseMs / 3).unref()
  }

  /** Looks for due deliveries now (after a record, a release or a replay). */
  wake(): void {
    if (this.#closed) return
    if (this.#ticking) {
      this.#again = true
      return
    }
    this.#ticking = true
    setImmediate(() => void this.#tick())
  }

  /** Stops taking deliveries and waits (up to `ms`) for those running; the rest stay in the outbox. */
  async close(ms = 2000): Promise<void> {
    this.#closed = true
    clearTimeout(this.#timer)
    clearInterval(this.#renewal)
    if (this.#running.size === 0) return
    await Promise.race([new Promise<void>((r) => this.#idle.push(r)), new Promise((r) => setTimeout(r, ms).unref())])
  }

  async #tick(): Promise<void> {
    try {
      do {
        this.#again = false
        if (this.#closed) return
        await this.#claimAndRun()
      } while (this.#again)
    } catch (err) {
      this.#log.error({ err }, 'could not read the outbox; trying again shortly')
      this.#schedule(Date.now() + 1000)
    } finally {
      this.#ticking = false
    }
  }

  async #claimAndRun(): Promise<void> {
    clearTimeout(this.#timer)
    this.#timer = undefined
    let free = this.#concurrency - this.#running.size
    if (free > 0) {
      const { outbox } = this.deps
      // A released route's backlog first: it goes out in order, one at a time.
      const inOrder = await outbox.claimInOrder(this.#claimant, free)
      free -= inOrder.length
      const due = await outbox.claimDue(this.#claimant, free)
      for (const delivery of [...inOrder, ...due]) void this.#run(delivery)
      if (due.length === free && free > 0) return // more may be due: the next completion wakes us
    }
    const next = await this.deps.outbox.nextDueAt()
    const poll = this.deps.pollMs === undefined ? undefined : Date.now() + this.deps.pollMs
    const at = next === undefined ? poll : poll === undefined ? next : Math.min(next, poll)
    if (at !== undefined) this.#schedule(at)
  }

  #schedule(at: number): void {
    if (this.#closed) return
    clearTimeout(this.#timer)
    this.#timer = setTimeout(() => this.wake(), Math.max(10, at - Date.now()))
    this.#timer.unref()
  }

  #renew(): void {
    if (this.#running.size === 0) return
    this.deps.outbox.renew(this.#claimant, [...this.#running]).catch((err: unknown) => this.#log.warn({ err }, 'could not renew the claims on running deliveries'))
  }

  async #run(delivery: Delivery): Promise<void> {
    this.#running.add(delivery.id)
    try {
      const resolved = await this.#resolve(delivery)
      if (resolved) await this.#attempt(resolved.delivery, resolved.target)
    } catch (err) {
      this.#log.error({ err, delivery: delivery.id }, 'delivery failed unexpectedly; it stays in the outbox')
    } finally {
      this.#running.delete(delivery.id)
      if (this.#running.size === 0) for (const resolve of this.#idle.splice(0)) resolve()
      this.wake()
    }
  }

  /** Follows routes to a concrete target; undefined when the delivery was held, split or dead-lettered. */
  async #resolve(delivery: Delivery): Promise<{ delivery: Delivery; target: Target | undefined } | undefined> {
    const { outbox, routes } = this.deps
    let d = delivery
    let target = parseTarget(d.target)
    for (let depth = 0; target?.kind === 'route'; depth++) {
      const name = target.name
      if (depth >= MAX_ROUTE_DEPTH || !routes.has(name)) {
        await this.#deadLetter(d, target, new ActionError(depth >= MAX_ROUTE_DEPTH ? `route chain longer than ${MAX_ROUTE_DEPTH} at ${name}` : `route ${name} does not exist`, false))
        return undefined
      }
      if (routes.isHeld(name)) {
        await outbox.hold(d.id)
        return undefined
      }
      const picks = routes.pick(name)!
      if (picks.length > 1) {
        await outbox.split(d, picks.map((t) => ({ target: formatTarget(targetOf(t)), spec: t })), name)
        return undefined
      }
      const pick = picks[0]!
      target = targetOf(pick)
      const address = formatTarget(target)
      await outbox.retarget(d.id, address, pick, name)
      d = { ...d, target: address, spec: pick, via: name }
    }
    return { delivery: d, target }
  }

  async #attempt(d: Delivery, target: Target | undefined): Promise<void> {
    const started = performance.now()
    try {
      if (!target) throw new ActionError(`unknown target ${d.target}`, false)
      await deliverTo(target, d, this.deps)
    } catch (err) {
      const ms = performance.now() - started
      this.deps.stats?.attempted(d.target, false, ms)
      if (d.context.trace) this.deps.tracer?.delivered(d.context.trace, { target: d.target, via: d.via ?? null, ok: false, ms, error: (err as Error).message })
      this.#failed.inc({ target: d.target })
      await this.#afterFailure(d, target, err instanceof Error ? err : new Error(String(err)))
      return
    }
    const ms = performance.now() - started
    this.deps.stats?.attempted(d.target, true, ms)
    if (d.context.trace) this.deps.tracer?.delivered(d.context.trace, { target: d.target, via: d.via ?? null, ok: true, ms })
    this.#delivered.inc({ target: d.target })
    // Not waited for: the claim keeps the delivery from being made again
    // until the delete commits, with the other writes of this turn.
    this.deps.outbox.complete(d.id).catch((err: unknown) => this.#log.warn({ err, delivery: d.id }, 'could not remove a delivery that was made; it will be made again'))
  }

  async #afterFailure(d: Delivery, target: Target | undefined, err: Error): Promise<void> {
    const policy = this.#policyFor(d, target)
    const attempts = d.attempts + 1
    const retryable = err instanceof ActionError ? err.retryable : true
    const tooOld = Date.now() - d.createdAt >= policy.maxAge
    if (!retryable || attempts >= policy.attempts || tooOld) {
      await this.#deadLetter({ ...d, attempts }, target, err)
      return
    }
    const wait = backoff(policy, attempts)
    await this.deps.outbox.retryLater(d.id, attempts, Date.now() + wait, err.message)
    this.#log.debug({ delivery: d.id, target: d.target, attempts, wait, err: err.message }, 'delivery failed; will retry')
  }

  #policyFor(d: Delivery, target: Target | undefined): RetryPolicy {
    if (isRenderedRequest(d.spec) && d.spec.retry) return d.spec.retry
    if (target?.kind === 'function') {
      const own = this.deps.functions.get(target.name)?.retry
      if (own) return own
    }
    return (d.via ? this.deps.routes.retryOf(d.via) : undefined) ?? this.#defaultRetry
  }

  async #deadLetter(d: Delivery, target: Target | undefined, err: Error): Promise<void> {
    const id = await this.deps.outbox.deadLetter(d, err.message)
    this.#dead.inc({ target: d.target })
    this.deps.stats?.deadLettered(d.target)
    this.#log.warn({ delivery: d.id, deadLetter: id, target: d.target, attempts: d.attempts, err: err.message }, 'delivery dead-lettered')
    const letter: DeadLetter = { ...d, id, deliveryId: d.id, failedAt: Date.now(), error: err.message, lastError: err.message }
    const body = { id, target: d.target, via: d.via, attempts: d.attempts, error: err.message, event: d.event, context: publicContext(d), timestamp: letter.failedAt, eventType: 'deadletter' }
    void this.deps.publisher.publish({ topic: `$events/deadletter/${deadLetterLabel(target, d.via)}`, payload: Buffer.from(JSON.stringify(body)), qos: 1, retain: false }, { hops: d.context.hops, fromLoop: d.context.fromLoop })
      .catch((e: unknown) => this.#log.debug({ err: e }, 'could not publish a dead-letter event'))
    this.deps.onDeadLetter?.(letter, err)
  }
}
