import { pubSubCase } from './pubsub-case.js'
import type { Scenario } from './scenario.js'
import { durableDeliveries, storedEvents } from './switchyard-probes.js'

/** Scenario 6: how fast events reach SQLite, and whether writing them stalls the broker. */
export const storeAction: Scenario = {
  number: 6,
  title: 'Store action and durable delivery',
  short: 'Store',
  method: 'Saturated publishers (10, QoS 0 for the store action; QoS 1 for function deliveries, each recorded in the outbox before its PUBACK) to a rule on `bench/+/x`; a subscriber on the same topics keeps the load bounded. A run counts only if every event is found in the SQLite file (or, for deliveries, the outbox is empty at the end). The longest event-loop stall is the broker\'s own (`switchyard_nodejs_eventloop_lag_max_seconds`, read every 250 ms; the readings inside the measured window count).',
  cases: [
    storedEvents(pubSubCase({ id: 'store-action', label: 'Store action (`store: { table: bench }`)', peers: ['switchyard-store'], qos: 0, publishers: 10, subscribers: 1 }), 'bench'),
    durableDeliveries(pubSubCase({ id: 'durable-deliveries', label: 'Function deliveries through the outbox (`invoke`)', peers: ['switchyard-fn'], qos: 1, publishers: 10, subscribers: 1, filter: 'bench-fn/+', unordered: true })),
  ],
}
