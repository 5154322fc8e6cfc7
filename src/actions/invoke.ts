import { z } from 'zod'
import { formatTarget } from '../delivery/targets/index.js'
import { deliveryContext, type ActionKind } from './action.js'

const NAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/

const schema = z.strictObject({
  function: z.string().regex(NAME, 'must be a function name').optional(),
  route: z.string().regex(NAME, 'must be a route name').optional(),
}).refine((c) => (c.function === undefined) !== (c.route === undefined), 'must name either a function or a route, not both')

export type InvokeConfig = z.output<typeof schema>

/**
 * Calls a function or a route with the rule's SELECT output, durably: the
 * action completes once the delivery is recorded in the outbox, and the
 * dispatcher then delivers it at least once, with retries and dead letters.
 */
export const invoke: ActionKind<InvokeConfig> = {
  schema,
  create(config, deps) {
    const target = formatTarget(config.function !== undefined ? { kind: 'function', name: config.function } : { kind: 'route', name: config.route! })
    return {
      kind: 'invoke',
      durable: true,
      async run(event) {
        await deps.deliveries.record({ target, event: event.output, context: deliveryContext(event) }, event)
      },
      describe(event) {
        return { kind: 'invoke', target, event: event.output }
      },
    }
  },
}
