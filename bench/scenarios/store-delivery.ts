import { pubSubCase } from './pubsub-case.js'
import type { Scenario } from './scenario.js'
import { durableDeliveries, storedEvents } from './switchyard-probes.js'

/** Scenario 6: how fast events reach SQLite, and whether writing them stalls the broker. */
export const storeAction: Scenario = {
  number: 6,
  title: 'Store action and durable delivery',
  short: 'Store',
  method: 'A rule on `bench/+/x` stores every message (`store: { table: bench, maxRows: 100000000 }`: the row limit of the table, 100,000 by default, set above what a run writes, so that every event can be found afterwards): 10 publishers send QoS 0 messages as fast as the broker takes them in, with no subscriber; each follows every 25 publishes with a PINGREQ and keeps at most 100 publishes unconfirmed by a PINGRESP (a broker handles a client\'s packets in order), so the broker\'s work is the rule and the store and nothing else (CPU per delivery is then CPU per event taken in). Events written per second are rows counted in the SQLite file (a second reader beside the broker) at the start and the end of the measured window, and the run counts only if every published event is found there at the end. Function deliveries: a rule invoking a local function, 10 publishers at QoS 1, each delivery recorded in the outbox before its PUBACK (deliveries recorded per second are PUBACKs per second); a subscriber to the function\'s output keeps the load bounded, and the outbox must be empty at the end. The longest event-loop stall is measured inside the broker by a module loaded with `node --import` (a 2 ms timer: the longest gap between its ticks in the measured window, at most 2 ms more than the stall itself).',
  cases: [
    storedEvents(pubSubCase({
      id: 'store-action', label: 'Store action (`store: { table: bench, maxRows: 100000000 }`)', peers: ['switchyard-store'], qos: 0, publishers: 10, subscribers: 0, chart: 'cpu-per-delivery',
      // Rows are never deleted here, so the highest id counts every insert, without a scan.
      storedRowsSql: 'SELECT coalesce(max(id), 0) FROM store_events',
    }), 'bench'),
    durableDeliveries(pubSubCase({ id: 'durable-deliveries', label: 'Function deliveries through the outbox (`invoke`)', peers: ['switchyard-fn'], qos: 1, publishers: 10, subscribers: 1, filter: 'bench-fn/+', unordered: true })),
  ],
}
