import { z } from 'zod'
import { formatTarget } from '../delivery/targets/index.js'
import { ActionError } from '../errors.js'
import { deliveryContext, type ActionKind } from './action.js'
import { jsonOutput } from './output-bytes.js'

const NAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/

const schema = z.strictObject({
  function: z.string().regex(NAME, 'must be a function name').optional(),
  route: z.string().regex(NAME, 'must be a route name').optional(),
  /** Invocations per second one client's publishes may cause through this action; limits.invocationsPerClient (across actions) when left out. */
  perClient: z.number({ error: 'must be a number of invocations per second' }).positive('must be more than 0').optional(),
}).refine((c) => (c.function === undefined) !== (c.route === undefined), 'must name either a function or a route, not both')

export type InvokeConfig = z.output<typeof schema>

// Each action with a quota of its own has its own buckets.
let quotas = 0

/**
 * Calls a function or a route with the rule's SELECT output (for `SELECT *`
 * of a payload that is not JSON, its base64 string), durably: the
 * action completes once the delivery is recorded in the outbox, and the
 * dispatcher then delivers it at least once, with retries and dead letters.
 */
export const invoke: ActionKind<InvokeConfig> = {
  schema,
  create(config, deps) {
    const target = formatTarget(config.function !== undefined ? { kind: 'function', name: config.function } : { kind: 'route', name: config.route! })
    const quotaKey = config.perClient === undefined ? '*' : `${target}#${++quotas}`
    return {
      kind: 'invoke',
      durable: true,
      async run(event) {
        if (!deps.quota.take(event.clientId, quotaKey, config.perClient)) {
          throw new ActionError(`invocation quota exceeded: client ${event.clientId} may cause ${config.perClient ?? 'limits.invocationsPerClient'} invocations a second`, false, { refused: true })
        }
        await deps.deliveries.record({ target, event: jsonOutput(event.output), context: deliveryContext(event) }, event)
      },
      describe(event) {
        return { kind: 'invoke', target, event: jsonOutput(event.output) }
      },
    }
  },
}
