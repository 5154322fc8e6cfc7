import type { PeerId } from '../peers/registry.js'
import type { PubSubJob } from '../load/job.js'
import type { RunningPeer } from '../peers/peer.js'
import type { BenchCase, Mode } from './scenario.js'

export interface PubSubCaseOptions {
  id: string
  label: string
  peers: readonly PeerId[]
  qos: 0 | 1
  publishers: number
  /** None: the publishers are paced by PINGREQ/PINGRESP instead (see PubSubJob). */
  subscribers: number
  /** Publishes per second in total; absent to saturate. */
  ratePerSecond?: number
  /** The subscribers' filter; `bench/+/x` unless given. */
  filter?: string
  /** Where every publisher publishes (a rule's FROM); `bench/<i>/x` unless given. */
  publishTopic?: string
  /** JSON members after the payload's fixed fields. */
  payloadMembers?: string
  /** The path does not keep order (functions): count messages, not their order. */
  unordered?: boolean
  /** Switchyard: a count of rows in its SQLite file that only grows, read at the start and end of the window. */
  storedRowsSql?: string
  /** Shown in the chart: `cpu-per-delivery` for saturated runs, `latency-p99` at a fixed rate, unless given. */
  chart?: BenchCase['chart']
  /**
   * Which nodes of a cluster the clients connect to: `same-node` (unless
   * given) every client to the first; `cross-node` the publishers to the
   * first and the subscribers to the last, so that every message goes from
   * one node to another. A single broker is both ends either way.
   */
  placement?: 'same-node' | 'cross-node'
  /** Read the broker's RSS idle, at its peak under the load and after it as well (PubSubJob's `memory`). */
  memory?: boolean
}

// Windows large enough to keep a broker busy through the generator's
// pauses, small enough that queues stay bounded (see pubsub-load.ts).
const MAX_UNACKED = 50
const MAX_UNDELIVERED = 100
const PAYLOAD_BYTES = 64
// RSS readings for `memory`: often enough to catch the top of each
// sawtooth of a garbage-collected heap (seconds apart under load); and a
// quiet time after the clients have gone in which a broker may give back
// what the load made it take.
export const RSS_SAMPLE_MS = 100
export const RSS_SETTLE_MS = 5000

/** A case of publishers on `bench/<i>/x` and subscribers on `bench/+/x`. */
export function pubSubCase(options: PubSubCaseOptions): BenchCase {
  return {
    id: options.id,
    label: options.label,
    peers: options.peers,
    websocket: false,
    // Unsaturated runs are about latency; saturated ones about cost.
    chart: options.chart ?? (options.ratePerSecond ? 'latency-p99' : 'cpu-per-delivery'),
    measure: (peer, { mode, runLoad }) => {
      if (options.storedRowsSql && !peer.switchyard) throw new Error(`${options.id} reads Switchyard's SQLite file and runs on Switchyard only`)
      return runLoad(pubSubJob(options, peer, mode))
    },
  }
}

/** The generator's job for a publish/subscribe case against a started peer, with these windows. */
export function pubSubJob(options: Omit<PubSubCaseOptions, 'id' | 'label' | 'peers'>, peer: RunningPeer, windows: Pick<Mode, 'warmupMs' | 'measureMs' | 'drainMs'>): PubSubJob {
  const subscribeNode = options.placement === 'cross-node' ? peer.nodes.at(-1)! : peer.nodes[0]!
  return {
    kind: 'pubsub',
    publishPort: peer.nodes[0]!.mqttPort,
    subscribePort: subscribeNode.mqttPort,
    broker: [...peer.processes],
    qos: options.qos,
    publishers: options.publishers,
    subscribers: options.subscribers,
    filter: options.filter ?? 'bench/+/x',
    ...(options.publishTopic ? { publishTopic: options.publishTopic } : {}),
    ...(options.payloadMembers ? { payloadMembers: options.payloadMembers } : {}),
    ...(options.unordered ? { unordered: true } : {}),
    ...(options.storedRowsSql ? { storedRows: { sqlitePath: peer.switchyard!.sqlitePath, sql: options.storedRowsSql } } : {}),
    payloadBytes: PAYLOAD_BYTES,
    ...(options.ratePerSecond ? { ratePerSecond: options.ratePerSecond } : {}),
    maxUnacked: MAX_UNACKED,
    maxUndelivered: MAX_UNDELIVERED,
    warmupMs: windows.warmupMs,
    measureMs: windows.measureMs,
    drainMs: windows.drainMs,
    ...(options.memory ? { memory: { sampleMs: RSS_SAMPLE_MS, settleMs: RSS_SETTLE_MS } } : {}),
  }
}
