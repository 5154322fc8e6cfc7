import { pubSubCase } from './pubsub-case.js'
import type { Scenario } from './scenario.js'

/** Scenario 3: many publishers, one consumer, as a backend service reading telemetry. */
export const fanIn: Scenario = {
  number: 3,
  short: 'Fan-in 50 → 1',
  title: 'Fan-in, saturated: 50 publishers to 1 subscriber, QoS 1',
  method: '50 publishers on `bench/i/x`, one subscriber on `bench/+/x`, QoS 1 both ways.',
  cases: [
    pubSubCase({ id: 'fan-in-qos1', label: 'QoS 1', peers: ['switchyard', 'switchyard-1k', 'aedes', 'mosquitto'], qos: 1, publishers: 50, subscribers: 1 }),
  ],
}
