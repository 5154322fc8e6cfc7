import type { ActionDeps, ActionEvent } from '../actions/action.js'
import { describeBytes } from '../actions/output-bytes.js'
import type { Template } from '../actions/template-string.js'
import { ORIGIN } from '../publisher/lineage.js'
import type { RuleSet } from './rule-set.js'

export interface DryRunInput {
  topic: string
  payload: Buffer
  clientId?: string | undefined
  principal?: string | undefined
}

export interface DryRunResult {
  rule: string
  from: string
  /**
   * The SELECT output (computed even when the WHERE is false, to show why).
   * The bytes of `SELECT *` of a payload that is not JSON are shown as
   * text when they are UTF-8, else in base64 with `selectEncoding: 'base64'`.
   */
  select: unknown
  selectEncoding?: string
  /** The WHERE result: true, false, or null when there is no WHERE or it is undefined. */
  where: boolean | null
  /** Why the SELECT cannot be evaluated on this message: the rule would fail, and run no action. */
  error?: string
  /** Each action with its templates filled in; empty when the WHERE is false. */
  actions: Array<Record<string, unknown>>
}

/**
 * Shows what the rules would do with a message, and does none of it: for
 * each rule that matches the topic, the SELECT output, the WHERE result and
 * every action with its templates filled in.
 */
export function dryRun(rules: RuleSet, input: DryRunInput): DryRunResult[] {
  const ctx = {
    payload: input.payload,
    topic: input.topic,
    clientId: input.clientId,
    principal: input.principal ?? input.clientId,
    timestamp: Date.now(),
  }
  return rules.match(input.topic).map((rule) => {
    const result = rule.query.run(ctx, { selectAlways: true })
    const output = result.output
    const event: ActionEvent = {
      rule: rule.name,
      topic: ctx.topic,
      clientId: ctx.clientId,
      principal: ctx.principal,
      timestamp: ctx.timestamp,
      payload: input.payload,
      output,
      lineage: ORIGIN,
      fill: (template: Template) => (template.constant ? template.source : template.render({ output, ctx })),
    }
    return {
      rule: rule.name,
      from: rule.from,
      ...(Buffer.isBuffer(output) ? (describeBytes('select', output) as { select: string }) : { select: output ?? null }),
      where: result.where ?? null,
      ...(result.error ? { error: result.error.message } : {}),
      actions: result.passed ? rule.actions.map((action) => action.describe(event)) : [],
    }
  })
}

/**
 * Dependencies for building rules that are only described, never run: any
 * use of them is a bug, and says so.
 */
export const DRY_RUN_DEPS = new Proxy({} as ActionDeps, {
  get(_target, name) {
    throw new Error(`a dry run executes nothing, but an action reached for ${String(name)}`)
  },
})
