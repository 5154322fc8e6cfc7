import { pubSubCase } from './pubsub-case.js'
import type { Scenario } from './scenario.js'
import { withStallProbe } from './switchyard-probes.js'

/** Scenario 7: local functions behind a rule, through the worker pool. */
export const functionInvocations: Scenario = {
  number: 7,
  title: 'Functions: invocations through the worker pool',
  short: 'Functions',
  method: 'A rule on `bench/+/x` invokes a local function (a worker of the pool) that publishes the event on to `bench-fn/<i>` with `ctx.publish`; the subscriber there times each one from the original publish. Saturated (10 publishers, QoS 0: invocations per second) and at a fixed 1,000 per second (latency).',
  cases: [
    withStallProbe(pubSubCase({ id: 'functions-saturated', label: 'Saturated', peers: ['switchyard-fn'], qos: 0, publishers: 10, subscribers: 1, filter: 'bench-fn/+', unordered: true, chart: 'cpu-per-delivery' })),
    withStallProbe(pubSubCase({ id: 'functions-rate', label: '1,000 invocations per second', peers: ['switchyard-fn'], qos: 0, publishers: 10, subscribers: 1, filter: 'bench-fn/+', unordered: true, ratePerSecond: 1000 })),
  ],
}
