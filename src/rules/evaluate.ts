import type { Logger } from 'pino'
import type { Action, ActionEvent } from '../actions/action.js'
import { ActionError } from '../errors.js'
import { runAction, type ErrorActions } from './error-actions.js'
import { PAYLOAD, RuleEvent, type Work } from './rule-event.js'
import type { CompiledRule } from './rule-set.js'
import type { TraceSpan, Tracer } from '../console/tracer.js'

export interface EvaluatorDeps {
  errorActions: ErrorActions
  /** Told when an action starts and when it settles. */
  actions: { started(): void; settled(): void }
  log: Logger
  /** The console's message tracing; asked one question per message while no one watches. */
  tracer?: Tracer | undefined
}

/** What an action does when it settles: counts it in its rule's stats, logs a failure, frees its slot. */
interface Settle {
  succeeded(): boolean
  failed(err: unknown): boolean
  /** For `Action.send`. */
  done(err?: Error | null): void
}

/**
 * Runs the rules a message matched: each rule's SQL, then the actions of
 * each rule it passes, counting all of it in the rule's stats. A failed
 * action goes to the rule's errorAction; nothing of it reaches the broker.
 */
export class Evaluator {
  /** The settle handlers of each rule's actions (see #settleOf); a reload's new rules get their own. */
  readonly #settles = new WeakMap<CompiledRule, Settle[]>()

  constructor(private readonly deps: EvaluatorDeps) {}

  /** Runs the rules on one message; returns the outcomes of its durable actions (true: recorded, or refused by choice). */
  evaluate(work: Work): Array<Promise<boolean>> {
    const durable: Array<Promise<boolean>> = []
    const tracer = this.deps.tracer
    const span = tracer !== undefined && tracer.watching ? tracer.begin(work.topic, work.clientId, work.payload) : undefined
    if (span) work.trace = span.id
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
          // A SELECT that AWS refuses for this message fails the rule as any other failure below.
          if (result.error) throw result.error
          if (!result.passed) {
            span?.send({ type: 'rule', trace: span.id, at: Date.now(), rule: rule.name, passed: false })
            continue
          }
          event = new RuleEvent(rule, work, result.output)
        } catch (err) {
          stats.failed++
          this.deps.log.debug({ rule: rule.name, err }, 'rule evaluation failed')
          span?.send({ type: 'rule', trace: span.id, at: Date.now(), rule: rule.name, passed: false, error: (err as Error).message })
          continue
        }
      }
      stats.passed++
      span?.send({ type: 'rule', trace: span.id, at: Date.now(), rule: rule.name, passed: true, output: traceable(event.output) })
      const actions = rule.actions
      for (let i = 0; i < actions.length; i++) {
        const action = actions[i]!
        if (span) {
          const running = this.#traced(rule, action, i, event, span)
          if (action.durable) durable.push(running)
        } else {
          const running = this.#start(rule, action, i, event)
          if (running) durable.push(running)
        }
      }
    }
    return durable
  }

  /**
   * Starts an action. For a durable one, returns a promise that resolves
   * (never rejects) with whether it succeeded.
   */
  #start(rule: CompiledRule, action: Action, index: number, event: ActionEvent): Promise<boolean> | undefined {
    this.deps.actions.started()
    // What an action does when it settles is made once per rule and action:
    // an action may wait long (a republish waits in the broker's queue), and
    // what it holds meanwhile outlives collections.
    const settle = this.#settleOf(rule, index)
    if (action.send && !action.durable && !rule.errorAction) {
      try {
        action.send(event, settle.done)
      } catch (err) {
        settle.failed(err)
      }
      return undefined
    }
    // The event is kept until the action settles only for an errorAction:
    // a store action waits for its commit, and the event's output (a
    // message's whole document) would otherwise outlive the turn with it.
    const running = runAction(action, event).then(settle.succeeded, rule.errorAction ? this.#failed(rule, action, index, event) : settle.failed)
    return action.durable ? running : undefined
  }

  /** The handlers of `rule`'s action `index` for when it settles (`failed` without an errorAction: see #start). */
  #settleOf(rule: CompiledRule, index: number): Settle {
    let settles = this.#settles.get(rule)
    if (!settles) this.#settles.set(rule, (settles = []))
    let settle = settles[index]
    if (!settle) {
      const succeeded = this.#succeeded(rule, index)
      const failed = this.#failed(rule, rule.actions[index]!, index, undefined)
      settle = settles[index] = { succeeded, failed, done: (err) => void (err ? failed(err) : succeeded()) }
    }
    return settle
  }

  /** #start, telling the trace what the action did, how it ended and how long it took. */
  #traced(rule: CompiledRule, action: Action, index: number, event: ActionEvent, span: TraceSpan): Promise<boolean> {
    const started = performance.now()
    let did: Record<string, unknown> | undefined
    try {
      did = traceable(action.describe(event)) as Record<string, unknown>
    } catch {
      did = undefined
    }
    const report = (error?: string) => span.send({
      type: 'action', trace: span.id, at: Date.now(), rule: rule.name, action: index, kind: action.kind, ok: error === undefined,
      ms: Math.round((performance.now() - started) * 100) / 100, ...(error === undefined ? {} : { error }), ...(did ? { did } : {}),
    })
    this.deps.actions.started()
    const settle = this.#settleOf(rule, index)
    const failed = rule.errorAction ? this.#failed(rule, action, index, event) : settle.failed
    return runAction(action, event).then(
      () => {
        report()
        return settle.succeeded()
      },
      (err: unknown) => {
        report((err as Error).message)
        return failed(err)
      },
    )
  }

  #succeeded(rule: CompiledRule, index: number): () => boolean {
    return () => {
      // A reload may have reshaped the stats while this action ran.
      const stats = rule.stats.actions[index]
      if (stats) stats.success++
      this.deps.actions.settled()
      return true
    }
  }

  #failed(rule: CompiledRule, action: Action, index: number, event: ActionEvent | undefined): (err: unknown) => boolean {
    return (err) => {
      const stats = rule.stats.actions[index]
      if (stats) stats.failure++
      // A refusal (a quota) is logged where it was decided, once a minute, not per message.
      const refused = err instanceof ActionError && err.refused
      this.deps.log[refused ? 'debug' : 'warn']({ rule: rule.name, action: action.kind, err: (err as Error).message }, 'rule action failed')
      if (event) this.deps.errorActions.failed(rule, action, event, err as Error)
      this.deps.actions.settled()
      return refused
    }
  }
}

/** What a trace shows of a value: Buffers as base64, and nothing over 4 KB. */
function traceable(value: unknown): unknown {
  const json = JSON.stringify(value, (_k, v: unknown) => (v && typeof v === 'object' && (v as { type?: unknown }).type === 'Buffer' ? { base64: Buffer.from((v as { data: number[] }).data).toString('base64') } : v))
  if (json === undefined) return null
  return json.length > 4096 ? { truncated: json.slice(0, 4096) } : JSON.parse(json)
}
