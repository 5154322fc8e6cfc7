import type { PeerId } from '../peers/registry.js'
import { pubSubCase, type PubSubCaseOptions } from './pubsub-case.js'
import type { BenchCase, Scenario } from './scenario.js'

export interface FixedRateOptions {
  id: string
  label: string
  peers: readonly PeerId[]
  /** QoS 1 publishes per second, from 10 publishers together. */
  ratePerSecond: number
  subscribers: number
  placement?: PubSubCaseOptions['placement']
}

/** `ratePerSecond` QoS 1 messages from 10 publishers, each delivered to every subscriber of `bench/+/x`. */
export function fixedRateCase({ id, label, peers, ratePerSecond, subscribers, placement }: FixedRateOptions): BenchCase {
  return pubSubCase({ id, label, peers, qos: 1, publishers: 10, subscribers, ratePerSecond, ...(placement ? { placement } : {}) })
}

/** Scenario 2: latency when the broker is not saturated. */
export const fixedRateLatency: Scenario = {
  number: 2,
  short: 'Fixed rate',
  title: 'Latency at a fixed 5,000 QoS 1 publishes per second',
  method: '10 publishers at 500 messages/s each (paced every millisecond), one subscriber on `bench/+/x`; latency from the publisher\'s write to the subscriber\'s read.',
  cases: [
    fixedRateCase({ id: 'fixed-rate-qos1', label: 'QoS 1, 5,000/s', peers: ['switchyard', 'switchyard-1k', 'aedes', 'mosquitto'], ratePerSecond: 5000, subscribers: 1 }),
  ],
}
