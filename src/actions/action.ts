import { randomUUID } from 'node:crypto'
import type { Logger } from 'pino'
import type { z } from 'zod'
import type { Cause, Publisher } from '../publisher/publisher.js'
import { nextHop, type Lineage } from '../publisher/lineage.js'
import type { EventLog } from '../storage/event-log.js'
import type { InvocationQuota } from './invocation-quota.js'
import type { DeliveryContext, NewDelivery } from '../storage/outbox-store.js'

/**
 * What an action sees of the event that triggered it. Built once per matched
 * rule; actions read it and never change it.
 */
export interface ActionEvent extends Cause {
  /** The rule that matched. */
  rule: string
  topic: string
  clientId: string | undefined
  /** The publisher's username, or its client id when it has none (AWS' principal()). */
  principal: string | undefined
  /** When the broker received the message, ms since the epoch. */
  timestamp: number
  /** The original payload, as published. */
  payload: Buffer
  /** The rule's SELECT output. */
  output: unknown
  /**
   * True when the output is the payload itself (`SELECT *` alone): its JSON
   * document, or its bytes when it is not one. Either way an action that
   * sends the output whole may send `payload` as published, byte for byte,
   * without reading `output`.
   */
  outputIsPayload?: boolean
  /** How many rule republishes led to this message, for the loop guard. */
  lineage: Lineage
  /** The console's trace of this message, while someone watches it. */
  trace?: string | undefined
  /** Evaluates a compiled substitution template against this event. */
  fill(template: Template): string
}

export type { Template } from './template-string.js'
import type { Template } from './template-string.js'

/** One configured action of a rule, compiled. Building validated it; running only runs. */
export interface Action {
  readonly kind: string
  /**
   * True when `run` records a delivery in the outbox rather than doing the
   * work: for a QoS 1 or 2 publish the broker acknowledges only after that
   * record is committed.
   */
  readonly durable?: boolean
  /** Runs the action; rejects with an ActionError that says whether a retry can help. */
  run(event: ActionEvent): Promise<void>
  /**
   * `run` with a callback, for an action that is not durable and runs for
   * every message its rule passes: no promise per message. `done` may be
   * called before `send` returns; it is called once, unless `send` throws.
   */
  send?(event: ActionEvent, done: (err?: Error | null) => void): void
  /** What `run` would do, with every template filled in; does nothing (the dry run). */
  describe(event: ActionEvent): Record<string, unknown>
}

/** What actions may use. Passed in explicitly; nothing reaches for a global. */
export interface ActionDeps {
  events: EventLog
  log: Logger
  /** Publishes through the broker, with the loop guard (maxHops). */
  publisher: Publisher
  /**
   * Records a durable delivery (to a function, route or URL); resolves once
   * committed. Past maxHops it is dropped as a loop instead.
   */
  deliveries: { record(delivery: NewDelivery, cause: Cause): Promise<void> }
  /** Each client's share of invocations (invoke actions). */
  quota: InvocationQuota
}

/**
 * An entry in the action registry: the config schema of a kind (which
 * compiles its templates as the config loads) and how to build it.
 */
export interface ActionKind<C> {
  readonly schema: z.ZodType<C, unknown>
  create(config: C, deps: ActionDeps): Action
}

/** The context a durable delivery caused by this event carries: one hop further. */
export function deliveryContext(event: ActionEvent): DeliveryContext {
  return {
    clientId: event.clientId ?? null,
    topic: event.topic,
    rule: event.rule,
    requestId: randomUUID(),
    timestamp: event.timestamp,
    ...nextHop(event.lineage),
    ...(event.trace === undefined ? {} : { trace: event.trace }),
  }
}
