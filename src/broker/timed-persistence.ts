import type { Registry } from 'prom-client'
import type { SessionStore } from '../storage/session-store.js'
import { answeredFromMemory } from '../persistence/memory-answers.js'
import { LatencyHistogram } from './latency-histogram.js'

/** The persistence calls that touch the store; stream-returning calls are not among them. */
export const STORE_OPERATIONS = [
  'storeRetained', 'addSubscriptions', 'removeSubscriptions', 'subscriptionsByClient', 'countOffline',
  'subscriptionsByTopic', 'cleanSubscriptions', 'outgoingEnqueue', 'outgoingEnqueueCombi', 'outgoingUpdate',
  'outgoingClearMessageId', 'incomingStorePacket', 'incomingGetPacket', 'incomingDelPacket', 'cleanIncoming',
  'putWill', 'getWill', 'delWill',
] as const

export type StoreOperation = (typeof STORE_OPERATIONS)[number]

/**
 * Returns an object that acts as `persistence` but runs each store operation
 * through `around`. Every method runs on the persistence itself, never on the
 * wrapper, since it may use private fields.
 */
export function wrapPersistence<P extends object>(
  persistence: P,
  around: (op: StoreOperation, call: () => Promise<unknown>) => Promise<unknown>,
  operations: readonly StoreOperation[] = STORE_OPERATIONS,
): P {
  const wrapper = Object.create(persistence) as Record<string, unknown>
  const methods = persistence as unknown as Record<string, (...args: unknown[]) => unknown>
  for (const name of methodNames(persistence)) {
    const method = methods[name]!
    // Bound: a wrapper of a wrapper adds no promise to each call. Aedes
    // requires `setup` to be an AsyncFunction, which a bound function is not.
    wrapper[name] = name === 'setup' ? async (...args: unknown[]) => method.apply(persistence, args) : method.bind(persistence)
  }
  for (const op of operations) {
    const method = methods[op]!
    // Every store operation is an async method: it returns a promise and never throws.
    wrapper[op] = (...args: unknown[]) => around(op, () => method.apply(persistence, args) as Promise<unknown>)
  }
  return wrapper as P
}

/** Times every store operation into `switchyard_store_operation_seconds{op}`. */
export function timedPersistence(persistence: SessionStore, registry: Registry): SessionStore {
  const histogram = new LatencyHistogram({
    name: 'switchyard_store_operation_seconds',
    help: 'Latency of MQTT session store operations (calls answered from memory, touching no row, are not counted)',
    labelName: 'op',
    labelValues: STORE_OPERATIONS,
    buckets: [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05, 0.25, 1],
    registers: [registry],
  })
  const observers = new Map(STORE_OPERATIONS.map((op) => [op, histogram.series(op)]))
  // Runs for every QoS 1/2 publish and PUBACK: no BigInt per call, and
  // nothing more for the calls answered from memory (memory-answers.ts),
  // which are not store latency.
  return wrapPersistence(persistence, (op, call) => {
    const start = performance.now()
    const result = call()
    if (answeredFromMemory(result)) return result
    const observer = observers.get(op)!
    const done = () => observer((performance.now() - start) / 1000)
    result.then(done, done)
    return result
  })
}

function methodNames(object: object): Set<string> {
  const names = new Set<string>()
  for (let proto = Object.getPrototypeOf(object); proto && proto !== Object.prototype; proto = Object.getPrototypeOf(proto)) {
    for (const name of Object.getOwnPropertyNames(proto)) {
      // Read from the descriptor: a getter may read private fields, which it cannot through a wrapper.
      if (name !== 'constructor' && typeof Object.getOwnPropertyDescriptor(proto, name)?.value === 'function') names.add(name)
    }
  }
  return names
}
