import type { Aedes, AedesPublishPacket, Client } from 'aedes'
import type { Logger } from 'pino'
import type { Registry } from 'prom-client'
import type { BrokerHooks } from '../broker/broker.js'
import type { Connections } from '../broker/connection-info.js'
import type { Tracer } from '../console/tracer.js'
import { lineageOf, ORIGIN } from '../publisher/lineage.js'
import type { DeadLetter } from '../storage/outbox-store.js'
import { longCommitScheduled } from '../store/turn-commits.js'
import { ErrorActions } from './error-actions.js'
import { Evaluator } from './evaluate.js'
import type { Work } from './rule-event.js'
import { RuleQueue } from './rule-queue.js'
import { RuleSet, type CompiledRule } from './rule-set.js'

const NO_RULES: readonly CompiledRule[] = []

export interface EngineOptions {
  queueSize: number
  concurrency: number
}

/** Where a cluster notes the publishes whose durable deliveries are recorded (see RecordedPublishes). */
export interface RecordedLog {
  seen(clientId: string, publish: AedesPublishPacket): Promise<boolean>
  remember(clientId: string, publish: AedesPublishPacket): Promise<void>
}

/**
 * Treats every published message as an event: matches it against the rule
 * set, evaluates each matching rule's SQL and starts its actions.
 *
 * Matching happens in Aedes' `published` hook; the rest is queued (see
 * RuleQueue) and the hook returns. Rule errors never reach Aedes'
 * callbacks, which would close the publisher's connection.
 */
export class RulesEngine {
  #rules = RuleSet.empty()
  readonly #queue: RuleQueue
  readonly #evaluator: Evaluator
  readonly #errorActions: ErrorActions
  readonly #log: Logger
  /** Payloads of QoS 1/2 messages whose rules already ran before the PUBACK. */
  readonly #handled = new WeakSet<object>()

  constructor(
    private readonly broker: Aedes,
    private readonly connections: Connections,
    options: EngineOptions,
    log: Logger,
    registry: Registry,
    private readonly recorded?: RecordedLog,
    tracer?: Tracer,
  ) {
    this.#log = log.child({ module: 'rules' })
    this.#errorActions = new ErrorActions(this.#log)
    this.#queue = new RuleQueue(options, (work) => this.#evaluator.evaluate(work), registry, longCommitScheduled)
    this.#evaluator = new Evaluator({ errorActions: this.#errorActions, actions: this.#queue, log: this.#log, tracer })
  }

  get rules(): RuleSet {
    return this.#rules
  }

  /** Swaps in a complete new rule set; messages already queued finish with the rules they matched. */
  use(rules: RuleSet): void {
    this.#rules = rules
  }

  /** Installs the engine as the broker's `published` hook, and as the step before a QoS 1/2 publish is acknowledged. */
  attach(hooks: BrokerHooks): void {
    this.broker.published = (packet, client, done) => this.#onPublished(packet, client, done)
    hooks.beforeAck = (client, packet, done) => this.beforeAck(packet as AedesPublishPacket, client, done)
    hooks.wants = (topic) => this.#rulesFor(topic).length > 0
  }

  /**
   * Runs before the broker acknowledges a client's QoS 1 or 2 publish (Aedes
   * 1.2 writes the PUBACK before its `published` hook). When a matching rule
   * has durable actions, the rules run now and the acknowledgement waits
   * until their deliveries are committed to the outbox, so a crash right
   * after the PUBACK loses none of them. If the outbox cannot record them the
   * publisher's connection is closed unacknowledged, and the client sends the
   * message again: at least once.
   *
   * In a cluster, a retransmit (DUP set) of a publish whose deliveries a node
   * recorded before it died unacknowledged runs its rules no second time.
   */
  beforeAck(packet: AedesPublishPacket, client: Client, done: (err?: Error | null) => void): void {
    if (packet.qos === 0 || this.#queue.closed) return done(null)
    const rules = this.#rules.match(packet.topic)
    if (!rules.some((r) => r.durable)) return done(null)
    this.#handled.add(packet.payload as object)
    const recorded = this.recorded
    if (!recorded) return this.#record(rules, packet, client, done)
    const record = () => this.#record(rules, packet, client, (err) => {
      if (err) return done(err)
      recorded.remember(client.id, packet).then(() => done(null), (err: unknown) => {
        this.#log.warn({ err, clientId: client.id }, 'could not note a recorded publish; a retransmit of it would run its rules again')
        done(null)
      })
    })
    if (!packet.dup) return record()
    recorded.seen(client.id, packet).then((seen) => {
      if (!seen) return record()
      this.#log.debug({ topic: packet.topic, clientId: client.id, messageId: packet.messageId }, 'retransmit of a publish whose deliveries are recorded; rules not run again')
      done(null)
    }, (err: unknown) => done(err as Error))
  }

  #record(rules: readonly CompiledRule[], packet: AedesPublishPacket, client: Client, done: (err?: Error | null) => void): void {
    const recorded = this.#evaluator.evaluate(this.#work(rules, packet, client))
    void Promise.all(recorded).then((outcomes) => {
      if (outcomes.every(Boolean)) return done(null)
      this.#log.error({ topic: packet.topic, clientId: client.id }, 'could not record deliveries; the publish is not acknowledged')
      done(new Error('could not record the deliveries of this publish'))
    })
  }

  /** Takes no new messages, then lets queued and running rule work finish (up to `ms`). */
  close(ms = 2000): Promise<void> {
    return this.#queue.close(ms)
  }

  /** A durable delivery a rule made has failed for good: the rule's errorAction hears of it. */
  deadLettered(letter: DeadLetter, err: Error): void {
    this.#errorActions.deadLettered(this.#rules.rules.find((r) => r.name === letter.context.rule), letter, err)
  }

  #onPublished(packet: AedesPublishPacket, client: Client | null, done: (err?: Error | null) => void): void {
    if (client && this.#handled.has(packet.payload as object)) return done()
    const rules = this.#rulesFor(packet.topic)
    if (rules.length === 0) return done()
    this.#queue.offer(this.#work(rules, packet, client), client !== null, done)
  }

  /** The rules a published message on `topic` runs: none once closing, and none for Aedes' own `$SYS/...`. */
  #rulesFor(topic: string): readonly CompiledRule[] {
    return this.#queue.closed || topic.startsWith('$SYS/') ? NO_RULES : this.#rules.match(topic)
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
}
