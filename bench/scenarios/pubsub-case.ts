import type { PeerId } from '../peers/registry.js'
import type { BenchCase } from './scenario.js'

export interface PubSubCaseOptions {
  id: string
  label: string
  peers: readonly PeerId[]
  qos: 0 | 1
  publishers: number
  subscribers: number
  /** Publishes per second in total; absent to saturate. */
  ratePerSecond?: number
}

// Windows large enough to keep a broker busy through the generator's
// pauses, small enough that queues stay bounded (see pubsub-load.ts).
const MAX_UNACKED = 50
const MAX_UNDELIVERED = 100
const PAYLOAD_BYTES = 64

/** A case of publishers on `bench/<i>/x` and subscribers on `bench/+/x`. */
export function pubSubCase(options: PubSubCaseOptions): BenchCase {
  return {
    id: options.id,
    label: options.label,
    peers: options.peers,
    websocket: false,
    // Unsaturated runs are about latency; saturated ones about cost.
    chart: options.ratePerSecond ? 'latency-p99' : 'cpu-per-delivery',
    measure: (peer, { mode, runLoad }) =>
      runLoad({
        kind: 'pubsub',
        port: peer.mqttPort,
        brokerPid: peer.pid,
        qos: options.qos,
        publishers: options.publishers,
        subscribers: options.subscribers,
        filter: 'bench/+/x',
        payloadBytes: PAYLOAD_BYTES,
        ...(options.ratePerSecond ? { ratePerSecond: options.ratePerSecond } : {}),
        maxUnacked: MAX_UNACKED,
        maxUndelivered: MAX_UNDELIVERED,
        warmupMs: mode.warmupMs,
        measureMs: mode.measureMs,
        drainMs: mode.drainMs,
      }),
  }
}
