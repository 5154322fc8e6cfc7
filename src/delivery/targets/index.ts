import { ActionError } from '../../errors.js'
import type { TargetConfig } from '../../routes/schema.js'
import type { Delivery } from '../../storage/outbox-store.js'
import { functionTarget } from './function.js'
import { routeTarget } from './route.js'
import type { Target, TargetDeps, TargetKind } from './target.js'
import { topicTarget } from './topic.js'
import { urlTarget } from './url.js'

export type { Target, TargetDeps } from './target.js'
export { publicContext } from './target.js'
export { durableRequest, isRenderedRequest, send, type DurableHttpRequest, type HttpRequest } from './url.js'

const KINDS = [functionTarget, routeTarget, urlTarget, topicTarget] as const

type KindOf<K extends Target['kind']> = TargetKind<Extract<Target, { kind: K }>>

function kindOf<K extends Target['kind']>(kind: K): KindOf<K> {
  return KINDS.find((k) => k.kind === kind) as unknown as KindOf<K>
}

/** The target an address names; undefined for an address of no known kind. */
export function parseTarget(address: string): Target | undefined {
  for (const kind of KINDS) {
    const target = kind.parse(address)
    if (target) return target
  }
  return undefined
}

/** The address of a target, as the outbox, dead letters and events write it. */
export function formatTarget(target: Target): string {
  return kindOf(target.kind).format(target as never)
}

/** The target a route's config names. */
export function targetOf(config: TargetConfig): Target {
  if ('function' in config) return { kind: 'function', name: config.function }
  if ('route' in config) return { kind: 'route', name: config.route }
  if ('topic' in config) return { kind: 'topic', topic: config.topic }
  return { kind: 'url', url: config.url }
}

/** One attempt at a delivery to a concrete target (a route is resolved before). */
export function deliverTo(target: Target, delivery: Delivery, deps: TargetDeps): Promise<void> {
  const kind = kindOf(target.kind)
  if (!kind.deliver) return Promise.reject(new ActionError(`a ${target.kind} target is resolved, not delivered to`, false))
  return kind.deliver(target as never, delivery, deps)
}

/** The action kind that made deliveries to a target: what a rule's errorAction names as the failed action. */
export function actionKindOf(target: Target | undefined): string {
  return target?.kind === 'url' ? 'http' : target?.kind ?? 'invoke'
}

/** One topic level naming a delivery's target in `$events/deadletter/{label}`: the function, else the route it came through, else its kind. */
export function deadLetterLabel(target: Target | undefined, via: string | null): string {
  if (target?.kind === 'function' || target?.kind === 'route') return target.name
  return via ?? target?.kind ?? 'unknown'
}
