import type { Aedes, AedesPublishPacket, Client } from 'aedes'
import type { Logger } from 'pino'
import { Counter, Gauge, type Registry } from 'prom-client'
import type { Action, ActionEvent, RulePublish } from '../actions/action.js'
import type { DeadLetter, NewDelivery } from '../delivery/outbox.js'
import type { Template } from '../actions/template-string.js'
import type { Connections } from '../broker/connection-info.js'
import { errorDocument } from './error-document.js'
import { lineageOf, lineageProperties, ORIGIN, type Lineage } from './lineage.js'
import { RuleSet, type CompiledRule } from './rule-set.js'
import type { SqlContext } from './sql/index.js'

export interface EngineOptions {
  maxHops: number
  queueSize: number
  concurrency: number
}

/**
 * One message waiting for its rules: the SQL's view of it, with what the
 * engine needs beside. One object per message, as a queue of them may be long.
 */
interface Work extends SqlContext {
  rules: readonly CompiledRule[]
  payload: Buffer
  lineage: Lineage
}

/**
 * Treats every published message as an event: matches it against the rule
 * set, evaluates each matching rule's SQL and starts its actions.
 *
 * The publisher is never made to wait for rule work: matching happens in
 * Aedes' `published` hook, the rest is queued and the hook returns. Only when
 * the bounded queue is full does the hook hold the publisher (Aedes then
 * stops reading from that client) until there is room again. Rule errors
 * never reach Aedes' callbacks, which would close the publisher's connection.
 */
export class RulesEngine {
  #rules = RuleSet.empty()
  readonly #queue: Work[] = []
  readonly #waiting: Array<() => void> = []
  #inFlight = 0
  #scheduled = false
  #closed = false
  #whenIdle: (() => void) | undefined
  readonly #log: Logger
  readonly #dropped: Counter
  readonly #loops: Counter
  /** Payloads of QoS 1/2 messages whose rules already ran before the PUBACK. */
  readonly #handled = new WeakSet<object>()
  #record: ((delivery: NewDelivery) => Promise<void>) | undefined

  constructor(
    private readonly broker: Aedes,
    private readonly connections: Connections,
    private readonly options: EngineOptions,
    log: Logger,
    registry: Registry,
  ) {
    this.#log = log.child({ module: 'rules' })
    const engine = this
    new Gauge({
      name: 'switchyard_rules_queue_length',
      help: 'Messages waiting for rule evaluation',
      registers: [registry],
      collect() {
        this.set(engine.#queue.length)
      },
    })
    new Gauge({
      name: 'switchyard_rules_actions_in_flight',
      help: 'Rule actions running now',
      registers: [registry],
      collect() {
        this.set(engine.#inFlight)
      },
    })
    this.#dropped = new Counter({ name: 'switchyard_rules_dropped_total', help: 'Messages from rules dropped because the rule queue was full', registers: [registry] })
    this.#loops = new Counter({ name: 'switchyard_rules_loop_drops_total', help: 'Republishes dropped by the loop guard (maxHops)', registers: [registry] })
  }

  get rules(): RuleSet {
    return this.#rules
  }

  /** Swaps in a complete new rule set; messages already queued finish with the rules they matched. */
  use(rules: RuleSet): void {
    this.#rules = rules
  }

  /** Installs the engine as the broker's `published` hook. */
  attach(): void {
    this.broker.published = (packet, client, done) => this.#onPublished(packet, client, done)
  }

  /** Where durable deliveries (invoke actions) are recorded. */
  recordWith(record: (delivery: NewDelivery) => Promise<void>): void {
    this.#record = record
  }

  /**
   * Runs before the broker acknowledges a client's QoS 1 or 2 publish (Aedes
   * 1.2 writes the PUBACK before its `published` hook). When a matching rule
   * has durable actions, the rules run now and the acknowledgement waits
   * until their deliveries are committed to the outbox, so a crash right
   * after the PUBACK loses none of them. If the outbox cannot record them the
   * publisher's connection is closed unacknowledged, and the client sends the
   * message again: at least once.
   */
  beforeAck(packet: AedesPublishPacket, client: Client, done: (err?: Error | null) => void): void {
    if (packet.qos === 0 || this.#closed) return done(null)
    const rules = this.#rules.match(packet.topic)
    if (!rules.some((r) => r.durable)) return done(null)
    this.#handled.add(packet.payload as object)
    const recorded = this.#evaluate(this.#work(rules, packet, client))
    void Promise.all(recorded).then((outcomes) => {
      if (outcomes.every(Boolean)) return done(null)
      this.#log.error({ topic: packet.topic, clientId: client.id }, 'could not record deliveries; the publish is not acknowledged')
      done(new Error('could not record the deliveries of this publish'))
    })
  }

  /**
   * Takes no new messages, then lets what is queued and running finish (up
   * to `ms`), so that a shutdown does not cut rule work off halfway: actions
   * still need the broker and the store, which close after this.
   */
  async close(ms = 2000): Promise<void> {
    this.#closed = true
    for (const resume of this.#waiting.splice(0)) resume()
    if (this.#idle()) return
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms)
      timer.unref()
      this.#whenIdle = () => {
        clearTimeout(timer)
        resolve()
      }
    })
    this.#whenIdle = undefined
  }

  #idle(): boolean {
    return this.#queue.length === 0 && this.#inFlight === 0
  }

  #onPublished(packet: AedesPublishPacket, client: Client | null, done: (err?: Error | null) => void): void {
    if (client && this.#handled.has(packet.payload as object)) return done()
    const rules = this.#closed || packet.topic.startsWith('$SYS/') ? [] : this.#rules.match(packet.topic)
    if (rules.length === 0) return done()
    const work = this.#work(rules, packet, client)
    if (this.#queue.length < this.options.queueSize) {
      this.#enqueue(work)
      return done()
    }
    if (!client) {
      // Rules' own publishes must not wait on the queue their actions are
      // draining; past twice the bound they are dropped and counted.
      if (this.#queue.length < this.options.queueSize * 2) this.#enqueue(work)
      else this.#dropped.inc()
      return done()
    }
    // Push back: the publisher waits until there is room.
    this.#waiting.push(() => {
      this.#enqueue(work)
      done()
    })
  }

  #work(rules: readonly CompiledRule[], packet: AedesPublishPacket, client: Client | null): Work {
    const info = client ? this.connections.get(client) : undefined
    return {
      rules,
      payload: packet.payload as Buffer,
      topic: packet.topic,
      clientId: client?.id,
      principal: info?.username ?? client?.id,
      timestamp: Date.now(),
      parsed: undefined,
      // A client's own publish is always an origin: only the broker's
      // internal publishes carry a lineage.
      lineage: client ? ORIGIN : lineageOf(packet),
    }
  }

  #enqueue(work: Work): void {
    this.#queue.push(work)
    this.#schedule()
  }

  #schedule(): void {
    if (this.#scheduled) return
    this.#scheduled = true
    setImmediate(() => this.#drain())
  }

  #drain(): void {
    this.#scheduled = false
    // A bounded slice per turn, so that sockets are served in between, taken
    // by index and removed in one move. (Rules' own publishes may add to the
    // queue's end meanwhile.)
    const queue = this.#queue
    let taken = 0
    while (taken < queue.length && taken < 512 && this.#inFlight < this.options.concurrency) {
      this.#evaluate(queue[taken++]!)
    }
    queue.splice(0, taken)
    while (this.#waiting.length > 0 && this.#queue.length < this.options.queueSize) this.#waiting.shift()!()
    if (this.#queue.length > 0 && this.#inFlight < this.options.concurrency) this.#schedule()
    else if (this.#whenIdle && this.#idle()) this.#whenIdle()
  }

  /** Runs the rules on one message; returns the outcomes of its durable actions. */
  #evaluate(work: Work): Array<Promise<boolean>> {
    const durable: Array<Promise<boolean>> = []
    for (const rule of work.rules) {
      const stats = rule.stats
      stats.matched++
      let event: ActionEvent
      if (rule.query.passThrough) {
        // `SELECT *` without WHERE: nothing to decide, and the output (the
        // payload's document) is made only if an action reads it.
        event = new RuleEvent(rule, work, PAYLOAD)
      } else {
        try {
          const result = rule.query.run(work)
          if (!result.passed) continue
          event = new RuleEvent(rule, work, result.output)
        } catch (err) {
          stats.failed++
          this.#log.debug({ rule: rule.name, err }, 'rule evaluation failed')
          continue
        }
      }
      stats.passed++
      const actions = rule.actions
      for (let i = 0; i < actions.length; i++) {
        const action = actions[i]!
        const running = this.#start(rule, action, i, event)
        if (action.durable) durable.push(running)
      }
    }
    return durable
  }

  /** Starts an action; resolves (never rejects) with whether it succeeded. */
  #start(rule: CompiledRule, action: Action, index: number, event: ActionEvent): Promise<boolean> {
    this.#inFlight++
    // The event is kept until the action settles only for an errorAction:
    // a store action waits for its commit, and the event's output (a
    // message's whole document) would otherwise outlive the turn with it.
    return runAction(action, event).then(this.#succeeded(rule, index), this.#failed(rule, action, index, rule.errorAction ? event : undefined))
  }

  #succeeded(rule: CompiledRule, index: number): () => boolean {
    return () => {
      // A reload may have reshaped the stats while this action ran.
      const stats = rule.stats.actions[index]
      if (stats) stats.success++
      this.#settled()
      return true
    }
  }

  #failed(rule: CompiledRule, action: Action, index: number, event: ActionEvent | undefined): (err: unknown) => boolean {
    return (err) => {
      const stats = rule.stats.actions[index]
      if (stats) stats.failure++
      this.#log.warn({ rule: rule.name, action: action.kind, err: (err as Error).message }, 'rule action failed')
      if (event) this.#runErrorAction(rule, action, event, err as Error)
      this.#settled()
      return false
    }
  }

  /** An action has finished: room for queued work, or the engine may be idle. */
  #settled(): void {
    this.#inFlight--
    if (this.#queue.length > 0 || this.#waiting.length > 0) this.#schedule()
    else if (this.#whenIdle && this.#idle()) this.#whenIdle()
  }

  /**
   * A durable delivery a rule made has failed for good: the rule's
   * errorAction hears of it then, with the same document as for any failed
   * action.
   */
  deadLettered(letter: DeadLetter, err: Error): void {
    const rule = this.#rules.rules.find((r) => r.name === letter.context.rule)
    if (!rule?.errorAction) return
    const payload = Buffer.from(JSON.stringify(letter.event ?? null))
    const work: Work = {
      rules: [rule],
      payload,
      topic: letter.context.topic,
      clientId: letter.context.clientId ?? undefined,
      principal: undefined,
      timestamp: letter.context.timestamp,
      parsed: undefined,
      lineage: { hops: letter.context.hops, fromLoop: letter.context.fromLoop },
    }
    const event = new RuleEvent(rule, work, letter.event)
    // The target's kind (function, route, topic); a URL is what an http action calls.
    const prefix = letter.target.slice(0, letter.target.indexOf(':'))
    const kind = prefix === 'url' ? 'http' : prefix || 'invoke'
    const failed: Action = { kind, run: async () => {}, describe: () => (kind === 'http' ? { url: letter.target.slice('url:'.length) } : { target: letter.target }) }
    this.#runErrorAction(rule, failed, event, err)
  }

  #runErrorAction(rule: CompiledRule, failed: Action, event: ActionEvent, err: Error): void {
    const handler = rule.errorAction
    if (!handler) return
    // The same message, with the error document as its output; templates still read the message.
    const errorEvent: ActionEvent = {
      rule: event.rule,
      topic: event.topic,
      clientId: event.clientId,
      principal: event.principal,
      timestamp: event.timestamp,
      payload: event.payload,
      lineage: event.lineage,
      output: errorDocument(rule.name, event, failed, err),
      fill: (template) => event.fill(template),
    }
    runAction(handler, errorEvent).then(
      () => {
        if (rule.stats.errorAction) rule.stats.errorAction.success++
      },
      (handlerErr: unknown) => {
        if (rule.stats.errorAction) rule.stats.errorAction.failure++
        this.#log.error({ rule: rule.name, err: (handlerErr as Error).message }, 'the errorAction failed too')
      },
    )
  }

  /** The `publish` that actions use: one hop further, or dropped as a loop past maxHops. */
  publish(message: RulePublish, cause: ActionEvent): Promise<void> {
    const lineage: Lineage = { hops: cause.lineage.hops + 1, fromLoop: cause.lineage.fromLoop }
    if (this.#isLoop(lineage, cause, message.topic)) return Promise.resolve()
    return this.#publish(message, lineage)
  }

  /** The `deliver` that actions use: records a durable delivery, or drops it as a loop past maxHops. */
  deliver(delivery: NewDelivery, cause: ActionEvent): Promise<void> {
    const lineage: Lineage = { hops: delivery.context.hops, fromLoop: delivery.context.fromLoop }
    if (this.#isLoop(lineage, cause, delivery.target)) return Promise.resolve()
    if (!this.#record) return Promise.reject(new Error('durable deliveries are not set up'))
    return this.#record(delivery)
  }

  /**
   * Publishes on behalf of the router or a function, with the lineage of
   * the delivery behind it: past maxHops it is dropped (and counted), so
   * that rules on `$events/functions/...` cannot loop forever either.
   */
  publishAs(message: RulePublish, lineage: Lineage): Promise<void> {
    if (lineage.hops > this.options.maxHops) {
      this.#loops.inc()
      return Promise.resolve()
    }
    return this.#publish(message, lineage)
  }

  #isLoop(lineage: Lineage, cause: ActionEvent, to: string): boolean {
    if (lineage.hops <= this.options.maxHops) return false
    this.#loops.inc()
    this.#countLoop(cause.rule)
    if (!lineage.fromLoop) this.#publishLoopEvent(to, cause, lineage)
    return true
  }

  #countLoop(rule: string): void {
    const found = this.#rules.rules.find((r) => r.name === rule)
    if (found) found.stats.loops++
  }

  #publishLoopEvent(to: string, cause: ActionEvent, lineage: Lineage): void {
    this.#log.warn({ rule: cause.rule, to, hops: lineage.hops }, 'dropped a message past maxHops: the rules form a loop')
    const body = {
      rule: cause.rule,
      topic: to,
      sourceTopic: cause.topic,
      clientId: cause.clientId ?? null,
      hops: lineage.hops,
      maxHops: this.options.maxHops,
      timestamp: Date.now(),
      eventType: 'loop',
    }
    // The event may itself trigger rules, once: whatever follows from it is
    // marked, and is never answered with another loop event.
    void this.#publish(
      { topic: `$events/rules/${cause.rule}/loop`, payload: Buffer.from(JSON.stringify(body)), qos: 0, retain: false },
      { hops: this.options.maxHops, fromLoop: true },
    )
  }

  #publish(message: RulePublish, lineage: Lineage): Promise<void> {
    return new Promise((resolve, reject) => {
      this.broker.publish(
        {
          cmd: 'publish',
          topic: message.topic,
          payload: message.payload,
          qos: message.qos,
          retain: message.retain,
          dup: false,
          properties: lineageProperties(lineage),
        } as AedesPublishPacket,
        (err) => (err ? reject(err) : resolve()),
      )
    })
  }
}

/** Stands for an output that is the payload's own document, made when first read. */
const PAYLOAD = Symbol('the payload')

/**
 * One message as a rule's actions see it. A class rather than an object
 * literal: with the output's getter, a literal is built the slow way, as a
 * dictionary of about a kilobyte, for every message a rule passes.
 */
class RuleEvent implements ActionEvent {
  readonly rule: string
  readonly outputIsPayload: boolean
  readonly #query: CompiledRule['query']
  readonly #work: Work
  #output: unknown

  constructor(rule: CompiledRule, work: Work, output: unknown) {
    this.rule = rule.name
    this.outputIsPayload = rule.query.selectsPayload
    this.#query = rule.query
    this.#work = work
    this.#output = output
  }

  // The message's own fields are read from it, not copied for each rule it passes.
  get topic(): string {
    return this.#work.topic
  }

  get clientId(): string | undefined {
    return this.#work.clientId
  }

  get principal(): string | undefined {
    return this.#work.principal
  }

  get timestamp(): number {
    return this.#work.timestamp
  }

  get payload(): Buffer {
    return this.#work.payload
  }

  get lineage(): Lineage {
    return this.#work.lineage
  }

  get output(): unknown {
    if (this.#output === PAYLOAD) this.#output = this.#query.run(this.#work).output
    return this.#output
  }

  fill(template: Template): string {
    return template.constant ? template.source : template.render({ output: this.output, ctx: this.#work })
  }
}

/** Runs an action; actions need not be async functions: one that throws fails like one that rejects. */
function runAction(action: Action, event: ActionEvent): Promise<void> {
  try {
    return action.run(event)
  } catch (err) {
    return Promise.reject(err)
  }
}
