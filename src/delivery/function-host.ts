import type { FunctionHost, InvocationContext, PublishOptions } from '../functions/registry.js'
import type { RulesEngine } from '../rules/engine.js'
import type { Lineage } from '../rules/lineage.js'
import type { EventQuery, EventStore, StoredEvent } from '../store/event-store.js'

/**
 * What local functions reach of the broker: `ctx.publish` goes through the
 * rules engine one hop further than the delivery that invoked the function
 * (so functions cannot loop forever either), and `ctx.store.query` reads the
 * stored events.
 */
export class FunctionHostImpl implements FunctionHost {
  readonly #running = new Map<string, Lineage>()

  constructor(private readonly engine: RulesEngine, private readonly events: EventStore) {}

  /** Runs an invocation with the lineage its publishes continue from. */
  async run<T>(requestId: string, lineage: Lineage, invoke: () => Promise<T>): Promise<T> {
    this.#running.set(requestId, lineage)
    try {
      return await invoke()
    } finally {
      this.#running.delete(requestId)
    }
  }

  publish(topic: string, payload: Buffer, options: PublishOptions, context: InvocationContext): Promise<void> {
    const from = this.#running.get(context.requestId) ?? { hops: 0, fromLoop: false }
    return this.engine.publishAs({ topic, payload, qos: options.qos, retain: options.retain }, { hops: from.hops + 1, fromLoop: from.fromLoop })
  }

  queryStore(table: string, query: EventQuery): StoredEvent[] {
    return this.events.query(table, query)
  }
}
