import type { Aedes, AedesPublishPacket } from 'aedes'
import type { Logger } from 'pino'
import { Counter, type Registry } from 'prom-client'
import { lineageProperties, type Lineage } from './lineage.js'

/** A message the router publishes: a rule's republish, a function's `ctx.publish`, an event of its own. */
export interface Message {
  topic: string
  payload: Buffer
  qos: 0 | 1 | 2
  retain: boolean
}

/** Told once a publish is done (the broker has delivered it, or the loop guard dropped it), or why it failed. */
export type Published = (err?: Error | null) => void

/** The rule whose action led to a publish or a delivery: a loop it forms is reported in its name. */
export interface Cause {
  rule: string
  /** The topic of the message the rule matched. */
  topic: string
  clientId: string | undefined
}

export interface PublisherDeps {
  broker: Aedes
  /** How many steps (republishes, deliveries, function publishes) may follow from one client message. */
  maxHops: number
  /** Told of each loop a rule forms; the rules' stats count them. */
  loops?: { countLoop(rule: string): void }
  log: Logger
  registry: Registry
  /**
   * Whether a QoS 0 message on a topic, not retained, would reach anyone
   * (see Broker.reaches). One that would not is not handed to the broker:
   * it is counted, and done.
   */
  reaches?: (topic: string) => boolean
}

/**
 * The one way the router publishes: rules' actions, the dispatcher, functions
 * and the replay API all go through it, with the lineage of what they
 * publish. It holds the loop guard: past `maxHops` a message (or a delivery,
 * through `admits`) is dropped and counted, and when a rule caused it, a
 * `$events/rules/{rule}/loop` event says so, once.
 */
export class Publisher {
  readonly #broker: Aedes
  readonly #maxHops: number
  readonly #log: Logger
  readonly #loopDrops: Counter
  readonly #loops: PublisherDeps['loops']
  readonly #reaches: PublisherDeps['reaches']
  #unheard = 0

  constructor(deps: PublisherDeps) {
    this.#broker = deps.broker
    this.#maxHops = deps.maxHops
    this.#log = deps.log.child({ module: 'publisher' })
    this.#loops = deps.loops
    this.#loopDrops = new Counter({ name: 'switchyard_rules_loop_drops_total', help: 'Republishes dropped by the loop guard (maxHops)', registers: [deps.registry] })
    this.#reaches = deps.reaches
    const publisher = this
    let counted = 0
    new Counter({
      name: 'switchyard_publishes_no_subscribers_total',
      help: 'QoS 0 messages the router published (republishes, functions\' publishes) that no subscriber and no rule was there to receive',
      registers: [deps.registry],
      collect() {
        this.inc(publisher.#unheard - counted)
        counted = publisher.#unheard
      },
    })
  }

  /** Publishes `message`, which carries `lineage` (its own, already one hop past its cause's). */
  publish(message: Message, lineage: Lineage, cause?: Cause): Promise<void> {
    return new Promise((resolve, reject) => this.send(message, lineage, cause, (err) => (err ? reject(err) : resolve())))
  }

  /**
   * `publish` with a callback, which may be called before `send` returns:
   * no promise or closure per message, for the rules' republishes. While
   * the broker is busy a message waits in its queue, for as long as a
   * client's message would, and what it holds is kept that long.
   */
  send(message: Message, lineage: Lineage, cause: Cause | undefined, done: Published): void {
    if (!this.admits(lineage, message.topic, cause)) return done()
    this.#publish(message, lineage, done)
  }

  /**
   * Publishes an event of the router's own (QoS 0, not retained) whose
   * body `build` makes only when someone would receive it: an invocation's
   * `invoking` and `invoked` events, which nobody may be reading, cost the
   * JSON of their body only when someone is. `failed` is told why one
   * that was published failed.
   */
  event(topic: string, build: () => object, lineage: Lineage, failed: (err: Error) => void): void {
    if (!this.admits(lineage, topic) || this.#unheardHere(topic, 0, false)) return
    this.#toBroker({ topic, payload: Buffer.from(JSON.stringify(build())), qos: 0, retain: false }, lineage, (err) => {
      if (err) failed(err)
    })
  }

  /**
   * Whether something with `lineage` may go on to `to` (a topic, or a
   * delivery's target). Past maxHops it may not: the drop is counted, and
   * reported as a loop of `cause`'s rule unless a loop event is already
   * among its ancestors.
   */
  admits(lineage: Lineage, to: string, cause?: Cause): boolean {
    if (lineage.hops <= this.#maxHops) return true
    this.#loopDrops.inc()
    if (cause) {
      this.#loops?.countLoop(cause.rule)
      if (!lineage.fromLoop) this.#publishLoopEvent(to, cause, lineage)
    }
    return false
  }

  #publishLoopEvent(to: string, cause: Cause, lineage: Lineage): void {
    this.#log.warn({ rule: cause.rule, to, hops: lineage.hops }, 'dropped a message past maxHops: the rules form a loop')
    const body = {
      rule: cause.rule,
      topic: to,
      sourceTopic: cause.topic,
      clientId: cause.clientId ?? null,
      hops: lineage.hops,
      maxHops: this.#maxHops,
      timestamp: Date.now(),
      eventType: 'loop',
    }
    // The event may itself trigger rules, once: whatever follows from it is
    // marked, and is never answered with another loop event.
    this.#publish(
      { topic: `$events/rules/${cause.rule}/loop`, payload: Buffer.from(JSON.stringify(body)), qos: 0, retain: false },
      { hops: this.#maxHops, fromLoop: true },
      (err) => {
        if (err) this.#log.warn({ rule: cause.rule, err: err.message }, 'could not publish the loop event')
      },
    )
  }

  #publish(message: Message, lineage: Lineage, done: Published): void {
    if (this.#unheardHere(message.topic, message.qos, message.retain)) return done()
    this.#toBroker(message, lineage, done)
  }

  /**
   * Whether a message would reach no one; if so it is counted, and goes no
   * further. Through Aedes it would cost a publish (a packet, its router's
   * queue, the hooks) for nothing: Mosquitto and EMQX drop it as well.
   * QoS 1 and 2 go on: offline sessions may queue them.
   */
  #unheardHere(topic: string, qos: Message['qos'], retain: boolean): boolean {
    if (qos !== 0 || retain || this.#reaches?.(topic) !== false) return false
    this.#unheard++
    return true
  }

  #toBroker(message: Message, lineage: Lineage, done: Published): void {
    this.#broker.publish(
      {
        cmd: 'publish',
        topic: message.topic,
        payload: message.payload,
        qos: message.qos,
        retain: message.retain,
        dup: false,
        properties: lineageProperties(lineage),
      } as AedesPublishPacket,
      done,
    )
  }
}
