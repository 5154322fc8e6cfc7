import { pubSubCase } from './pubsub-case.js'
import type { Scenario } from './scenario.js'

/** Scenario 2: latency when the broker is not saturated. */
export const fixedRateLatency: Scenario = {
  number: 2,
  short: 'Fixed rate',
  title: 'Latency at a fixed 5,000 QoS 1 publishes per second',
  method: '10 publishers at 500 messages/s each (paced every millisecond), one subscriber on `bench/+/x`; latency from the publisher\'s write to the subscriber\'s read.',
  cases: [
    pubSubCase({ id: 'fixed-rate-qos1', label: 'QoS 1, 5,000/s', peers: ['switchyard', 'switchyard-1k', 'aedes', 'mosquitto'], qos: 1, publishers: 10, subscribers: 1, ratePerSecond: 5000 }),
  ],
}
