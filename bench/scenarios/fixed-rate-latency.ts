import type { PeerId } from '../peers/registry.js'
import { pubSubCase, type PubSubCaseOptions } from './pubsub-case.js'
import type { BenchCase, Scenario } from './scenario.js'

export interface FixedRateOptions {
  id: string
  label: string
  peers: readonly PeerId[]
  qos: 0 | 1
  /** Publishes per second, from 10 publishers together. */
  ratePerSecond: number
  subscribers: number
  placement?: PubSubCaseOptions['placement']
}

/** `ratePerSecond` messages from 10 publishers, each delivered to every subscriber of `bench/+/x`. */
export function fixedRateCase({ id, label, peers, qos, ratePerSecond, subscribers, placement }: FixedRateOptions): BenchCase {
  return pubSubCase({ id, label, peers, qos, publishers: 10, subscribers, ratePerSecond, ...(placement ? { placement } : {}) })
}

const PEERS: readonly PeerId[] = ['switchyard', 'switchyard-1k', 'aedes', 'mosquitto']

/** The 10-subscriber cases, whose p99 Switchyard is held to Mosquitto's (report/targets.ts). */
export const FIXED_RATE_FAN_OUT_CASES = ['fixed-rate-10-qos0', 'fixed-rate-10-qos1'] as const

/** Scenario 2: latency when the broker is not saturated. */
export const fixedRateLatency: Scenario = {
  number: 2,
  short: 'Fixed rate',
  title: 'Latency at a fixed 5,000 publishes per second',
  method: '10 publishers at 500 messages/s each (paced every millisecond): QoS 1 to one subscriber on `bench/+/x`, then QoS 0 and QoS 1 to 10 subscribers on `bench/+/x` (50,000 deliveries a second); latency from the publisher\'s write to the subscriber\'s read, p50 and p99 over every delivery of the window.',
  cases: [
    fixedRateCase({ id: 'fixed-rate-qos1', label: 'QoS 1, 5,000/s', peers: PEERS, qos: 1, ratePerSecond: 5000, subscribers: 1 }),
    ...([0, 1] as const).map((qos) => fixedRateCase({ id: FIXED_RATE_FAN_OUT_CASES[qos], label: `QoS ${qos}, 5,000/s to 10 subscribers`, peers: PEERS, qos, ratePerSecond: 5000, subscribers: 10 })),
  ],
}
