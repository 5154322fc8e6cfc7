import { pubSubCase } from './pubsub-case.js'
import type { Scenario } from './scenario.js'

const PEERS = ['switchyard', 'switchyard-1k', 'aedes', 'mosquitto'] as const

/** Scenario 1: the broker's core work, fan-out to wildcard subscribers at full speed. */
export const fanOut: Scenario = {
  number: 1,
  short: 'Fan-out 10 → 10',
  title: 'Fan-out, saturated: 10 publishers to 10 wildcard subscribers',
  method: 'Publisher i publishes 64-byte messages to `bench/i/x` as fast as its windows allow; each of 10 subscribers holds `bench/+/x`, so every message is delivered 10 times.',
  cases: [
    pubSubCase({ id: 'fan-out-qos0', label: 'QoS 0', peers: PEERS, qos: 0, publishers: 10, subscribers: 10 }),
    pubSubCase({ id: 'fan-out-qos1', label: 'QoS 1', peers: PEERS, qos: 1, publishers: 10, subscribers: 10 }),
  ],
}
