import type { PeerId } from '../peers/registry.js'
import { pubSubCase, RSS_SAMPLE_MS, RSS_SETTLE_MS, type PubSubCaseOptions } from './pubsub-case.js'
import type { BenchCase, Scenario } from './scenario.js'

const PEERS = ['switchyard', 'switchyard-1k', 'aedes', 'mosquitto'] as const

export const FAN_OUT_METHOD = 'Publisher i publishes 64-byte messages to `bench/i/x` as fast as its windows allow; each of 10 subscribers holds `bench/+/x`, so every message is delivered 10 times.'

export interface FanOutOptions {
  /** The cases' ids are `<id>-qos0` and `<id>-qos1`. */
  id: string
  peers: readonly PeerId[]
  /** Follows `QoS 0` and `QoS 1` in the cases' labels. */
  where?: string
  placement?: PubSubCaseOptions['placement']
  memory?: boolean
}

/** The saturated 10 → 10 fan-out at QoS 0 and at QoS 1. */
export function fanOutCases({ id, peers, where, placement, memory }: FanOutOptions): BenchCase[] {
  return ([0, 1] as const).map((qos) => pubSubCase({
    id: `${id}-qos${qos}`,
    label: `QoS ${qos}${where ? `, ${where}` : ''}`,
    peers,
    qos,
    publishers: 10,
    subscribers: 10,
    ...(placement ? { placement } : {}),
    ...(memory ? { memory } : {}),
  }))
}

/** Scenario 1: the broker's core work, fan-out to wildcard subscribers at full speed. */
export const fanOut: Scenario = {
  number: 1,
  short: 'Fan-out 10 → 10',
  title: 'Fan-out, saturated: 10 publishers to 10 wildcard subscribers',
  method: `${FAN_OUT_METHOD} The broker's RSS is read also with every client connected before the first publish (idle), every ${RSS_SAMPLE_MS} ms from the first publish to the end of the window (the peak), and ${RSS_SETTLE_MS / 1000} s after every client has disconnected (after).`,
  cases: fanOutCases({ id: 'fan-out', peers: PEERS, memory: true }),
}
