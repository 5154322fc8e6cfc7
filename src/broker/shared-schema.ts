import { z } from 'zod'
import { SHARED_STRATEGIES, type SharedStrategy } from './shared-group.js'

const strategy = z.enum(SHARED_STRATEGIES as [SharedStrategy, ...SharedStrategy[]], { error: 'must be round_robin, random or sticky' })

/**
 * `sharedSubscriptions`: how the members of a `$share/{group}/{filter}`
 * subscription take turns, for every group (`strategy`) or by group name
 * (`groups: { workers: sticky }`), as EMQX's shared_subscription_strategy
 * and its per-group setting.
 */
export const sharedSubscriptionsSchema = z.strictObject({
  strategy: strategy.default('round_robin'),
  groups: z.record(z.string(), strategy).default({}),
}).prefault({})

export type SharedSubscriptionsConfig = z.output<typeof sharedSubscriptionsSchema>

/** The strategy of a group, by name. */
export function strategyOf(config: SharedSubscriptionsConfig, group: string): SharedStrategy {
  return Object.hasOwn(config.groups, group) ? config.groups[group]! : config.strategy
}
