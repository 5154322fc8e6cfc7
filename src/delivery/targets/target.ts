import type { Logger } from 'pino'
import type { FunctionTarget as Fn } from '../../functions/function-target.js'
import type { Publisher } from '../../publisher/publisher.js'
import type { Delivery } from '../../storage/outbox-store.js'

/**
 * Where a delivery goes. In the outbox, in dead letters and in events a
 * target is written as an address, `kind:name` (`function:chat`,
 * `route:chat-handler`, `url:http://...`, `topic:a/b`): each kind's module
 * is the only place that reads or writes its addresses.
 */
export type Target =
  | { kind: 'function'; name: string }
  | { kind: 'route'; name: string }
  | { kind: 'url'; url: string }
  | { kind: 'topic'; topic: string }

/** What delivering to a target may use. */
export interface TargetDeps {
  /** The functions in force now. */
  functions: { get(name: string): Fn | undefined }
  publisher: Publisher
  log: Logger
}

/** One kind of target: its address's parse/format pair, and (but for routes, which are resolved) how it is delivered to. */
export interface TargetKind<T extends Target> {
  readonly kind: T['kind']
  format(target: T): string
  /** The target an address names, or undefined when it is not of this kind. */
  parse(address: string): T | undefined
  /** One attempt at the delivery; rejects with an ActionError that says whether a retry can help. */
  deliver?(target: T, delivery: Delivery, deps: TargetDeps): Promise<void>
}

/**
 * The parse/format pair of a kind whose address is `kind:` and one field:
 * `function:chat` is `{ kind: 'function', name: 'chat' }`.
 */
export function address<T extends Target, F extends Exclude<keyof T, 'kind'> & string>(kind: T['kind'], field: F): Pick<TargetKind<T>, 'kind' | 'format' | 'parse'> {
  const prefix = `${kind}:`
  return {
    kind,
    format: (target) => `${prefix}${target[field] as string}`,
    parse: (text) => (text.length > prefix.length && text.startsWith(prefix) ? ({ kind, [field]: text.slice(prefix.length) } as unknown as T) : undefined),
  }
}

/** The context a target sees: no internal lineage. */
export function publicContext(d: Delivery) {
  const { clientId, topic, rule, requestId, timestamp } = d.context
  return { clientId, topic, rule, requestId, timestamp }
}
