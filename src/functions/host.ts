import { nextHop, ORIGIN } from '../publisher/lineage.js'
import type { Publisher } from '../publisher/publisher.js'
import type { EventLog, EventQuery, StoredEvent } from '../storage/event-log.js'
import type { FunctionHost, InvocationContext, PublishOptions } from './function-target.js'

/**
 * What local functions reach of the broker: `ctx.publish` goes through the
 * publisher one hop further than the invocation (so functions cannot loop
 * forever either), and `ctx.store.query` reads the stored events.
 */
export class LocalFunctionHost implements FunctionHost {
  constructor(private readonly publisher: Publisher, private readonly events: EventLog) {}

  publish(topic: string, payload: Buffer, options: PublishOptions, context: InvocationContext): Promise<void> {
    return this.publisher.publish({ topic, payload, qos: options.qos, retain: options.retain }, nextHop(context.lineage ?? ORIGIN))
  }

  queryStore(table: string, query: EventQuery): Promise<StoredEvent[]> {
    return this.events.query(table, query)
  }
}
