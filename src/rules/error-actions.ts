import type { Logger } from 'pino'
import type { Action, ActionEvent } from '../actions/action.js'
import { actionKindOf, parseTarget } from '../delivery/targets/index.js'
import type { DeadLetter } from '../storage/outbox-store.js'
import { errorDocument } from './error-document.js'
import { RuleEvent, type Work } from './rule-event.js'
import type { CompiledRule } from './rule-set.js'

/**
 * A rule's errorAction: told of each failed action of the rule, with AWS
 * IoT's error document as its output, and of each durable delivery the rule
 * made that ends as a dead letter.
 */
export class ErrorActions {
  constructor(private readonly log: Logger) {}

  /** An action of `rule` failed on `event`. */
  failed(rule: CompiledRule, failed: Action, event: ActionEvent, err: Error): void {
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
        this.log.error({ rule: rule.name, err: (handlerErr as Error).message }, 'the errorAction failed too')
      },
    )
  }

  /**
   * A durable delivery `rule` made has failed for good: its errorAction
   * hears of it then, with the same document as for any failed action.
   */
  deadLettered(rule: CompiledRule | undefined, letter: DeadLetter, err: Error): void {
    if (!rule?.errorAction) return
    const work: Work = {
      rules: [rule],
      payload: Buffer.from(JSON.stringify(letter.event ?? null)),
      topic: letter.context.topic,
      clientId: letter.context.clientId ?? undefined,
      principal: undefined,
      timestamp: letter.context.timestamp,
      parsed: undefined,
      lineage: { hops: letter.context.hops, fromLoop: letter.context.fromLoop },
    }
    const target = parseTarget(letter.target)
    const kind = actionKindOf(target)
    const failed: Action = { kind, run: async () => {}, describe: () => (target?.kind === 'url' ? { url: target.url } : { target: letter.target }) }
    this.failed(rule, failed, new RuleEvent(rule, work, letter.event), err)
  }
}

/** Runs an action; actions need not be async functions: one that throws fails like one that rejects. */
export function runAction(action: Action, event: ActionEvent): Promise<void> {
  try {
    return action.run(event)
  } catch (err) {
    return Promise.reject(err)
  }
}
