import { ActionError } from '../../errors.js'
import type { InvocationContext } from '../../functions/function-target.js'
import { address, type TargetKind } from './target.js'

export type FunctionTarget = { kind: 'function'; name: string }

/**
 * A configured function, invoked with the delivery's event. The invocation
 * is told of on `$events/functions/{name}/invoking`, then `invoked` or
 * `failed`; what the function publishes continues the delivery's lineage.
 */
export const functionTarget: TargetKind<FunctionTarget> = {
  ...address<FunctionTarget, 'name'>('function', 'name'),
  async deliver({ name }, d, deps) {
    const fn = deps.functions.get(name)
    if (!fn) throw new ActionError(`function ${name} does not exist`, false)
    const ctx = d.context
    const lineage = { hops: ctx.hops, fromLoop: ctx.fromLoop }
    const event = (type: string, extra?: () => Record<string, unknown>) =>
      deps.publisher.event(
        `$events/functions/${name}/${type}`,
        () => ({ functionName: name, requestId: ctx.requestId, rule: ctx.rule, clientId: ctx.clientId, topic: ctx.topic, attempt: d.attempts + 1, eventType: type, timestamp: Date.now(), ...extra?.() }),
        lineage,
        (err) => deps.log.debug({ err }, 'could not publish a function event'),
      )
    event('invoking')
    const started = performance.now()
    try {
      const context: InvocationContext = { clientId: ctx.clientId ?? undefined, topic: ctx.topic, rule: ctx.rule ?? undefined, requestId: ctx.requestId, lineage }
      await fn.invoke(d.event, context)
    } catch (err) {
      const durationMs = Math.round(performance.now() - started)
      event('failed', () => ({ durationMs, error: (err as Error).message }))
      throw err
    }
    const durationMs = Math.round(performance.now() - started)
    event('invoked', () => ({ durationMs }))
  },
}
