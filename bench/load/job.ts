/**
 * What the harness asks of the load generator and what the generator
 * answers: the generator is a separate process (pinned to its own core) and
 * takes one job as JSON in argv, printing one result as the last JSON line
 * on stdout.
 */

import type { NamedProcess } from '../lib/proc-stats.js'

/**
 * A process of the broker side whose CPU time, system calls and RSS are read
 * around the measured window; `children` also counts what its child
 * processes use (Redis' rewrites of its append-only file).
 */
export interface BrokerProcess extends NamedProcess {
  children?: boolean
}

export interface PubSubJob {
  kind: 'pubsub'
  /** Where the publishers connect. */
  publishPort: number
  /** Where the subscribers connect: the same broker, or another node of a cluster. */
  subscribePort: number
  /**
   * Every process of the broker side: one broker, or a cluster's nodes and
   * its Redis. The broker's figures are their sums; with more than one, the
   * result also gives each one's part.
   */
  broker: BrokerProcess[]
  qos: 0 | 1
  publishers: number
  /**
   * With none, each publisher sends a PINGREQ after every quarter of
   * `maxUndelivered` publishes: the broker handles a client's packets in
   * order, so a PINGRESP says it has taken in every publish before it, and
   * the window counts publishes not yet taken in. The broker's own work per
   * message (rules, the store) is then all there is.
   */
  subscribers: number
  /** Every subscriber subscribes to this filter; publisher i publishes to `bench/<i>/x`. */
  filter: string
  /** Every publisher publishes here instead (a rule's FROM); the subscribers then read what the rule makes of it. */
  publishTopic?: string
  /** JSON members the payload carries after the fixed fields, e.g. `,"room":"bench","message":"hi"`. */
  payloadMembers?: string
  /** The path does not keep order (functions run side by side): messages are counted, not their order. */
  unordered?: boolean
  payloadBytes: number
  /** Publishes per second across all publishers; absent to publish as fast as the windows allow. */
  ratePerSecond?: number
  /** QoS 1 publishes a publisher may have without a PUBACK. */
  maxUnacked: number
  /** Messages of one publisher not yet received by every subscriber (or not yet taken in, without subscribers). Bounds the broker's queues, also for QoS 0. */
  maxUndelivered: number
  /**
   * Rows the broker has written so far, read from its SQLite file (as a
   * second reader beside it, in WAL mode) at the start and the end of the
   * measured window: `sql` answers one number that only grows.
   */
  storedRows?: { sqlitePath: string; sql: string }
  warmupMs: number
  measureMs: number
  /** How long to wait after the window for the last messages before counting the rest as lost. */
  drainMs: number
  /**
   * Read the broker side's RSS around the load as well: once every client
   * has connected and subscribed, before the first publish (idle); every
   * `sampleMs` from the first publish to the end of the window (the peak);
   * and `settleMs` after every client has disconnected (after).
   */
  memory?: { sampleMs: number; settleMs: number }
}

/**
 * Idle connections: each sends CONNECT (keepalive 0, so not even PINGREQs),
 * waits for its CONNACK and then stays quiet; the broker's RSS before and
 * after is the figure.
 */
export interface IdleJob {
  kind: 'idle'
  /** MQTT over WebSocket (subprotocol `mqtt`) at `url`, or over TCP to `port`. */
  transport: 'ws' | 'tcp'
  /** The ws:// address, for `ws`. */
  url?: string
  /** The MQTT port on 127.0.0.1, for `tcp`. */
  port?: number
  /** The broker (or the cluster's node) that `url` reaches: its RSS is the figure. */
  brokerPid: number
  /** A cluster's other processes (its other nodes, its Redis): what each one's RSS grows by per connection, beside the figure. */
  others?: NamedProcess[]
  /** Connections counted. */
  connections: number
  /** Connections opened first and kept, not counted: what a broker sets up once is paid by them. */
  warmup: number
  /** Handshakes in flight at once. */
  concurrency: number
  /** Quiet time before the RSS readings, so the broker has settled. */
  settleMs: number
  /**
   * Sent to the broker before each of its RSS readings (after the quiet
   * time): a Node broker started for it then runs full garbage collections
   * (peers/gc-probe.mjs), so the figure is what the connections keep. The
   * reading after the connections is also taken just before it.
   */
  gcSignal?: NodeJS.Signals
  /**
   * Load the broker carries first (a publish/subscribe job, run to its end,
   * whose clients then disconnect): the connections are then opened on a
   * broker whose heap has grown to a working size, as in production.
   */
  preload?: PubSubJob
}

/**
 * Sync invocations over HTTP (`POST /api/functions/{name}/invoke`), each
 * client with its own keep-alive connection sending its next request as soon
 * as the last is answered. It answers in the publish/subscribe result's
 * shape: a request is a publish and its correct answer a delivery.
 */
export interface HttpInvokeJob {
  kind: 'http-invoke'
  /** The endpoint, e.g. http://127.0.0.1:8080/api/functions/answer/invoke. */
  url: string
  /** The admin API's bearer token. */
  token: string
  brokerPid: number
  /** Requests in flight at once, one per connection. */
  clients: number
  warmupMs: number
  measureMs: number
  drainMs: number
}

export type LoadJob = PubSubJob | IdleJob | HttpInvokeJob

export interface PubSubResult {
  kind: 'pubsub'
  published: number
  /** Deliveries every subscriber should have had: published x subscribers. */
  expected: number
  /** Distinct messages received (duplicates not counted). */
  received: number
  lost: number
  duplicates: number
  outOfOrder: number
  windowSeconds: number
  deliveriesInWindow: number
  deliveriesPerSecond: number
  publishesPerSecond: number
  brokerCpuSeconds: number
  /** Broker CPU time per delivered message, in microseconds: the main throughput figure. */
  brokerCpuUsPerDelivery: number
  /** Broker CPU in the window, in percent of one core. */
  brokerCpuPercent: number
  /** The share of the broker's CPU time spent in the kernel (system calls, the network stack), in percent. */
  brokerSystemPercent?: number
  /** The broker's read and write system calls per delivered message. */
  brokerReadsPerDelivery?: number
  brokerWritesPerDelivery?: number
  generatorCpuPercent: number
  /** CPU used by everything else on the machine in the window, in percent of one core: other work disturbs the figures. */
  otherCpuPercent: number
  latencyP50Ms: number
  latencyP99Ms: number
  brokerRssKb: number
  /** Rate runs: true if the generator could not keep the asked rate (windows full). */
  fellBehind: boolean
  /** The measured window, in ms since the epoch: what the broker's own readings (its event-loop probe) are matched with. */
  windowStartedAt: number
  windowEndedAt: number
  /** Jobs with `storedRows`: rows the broker wrote in the window. */
  storedInWindow?: number
  /** Scenarios that store: rows the broker wrote per second in the window, once every event was found in its SQLite file. */
  storedPerSecond?: number
  /** The broker's longest event-loop stall in the window, in ms (from its event-loop probe). */
  maxStallMs?: number
  /** A broker side of several processes (a cluster): each one's part of the figures above. */
  processes?: ProcessFigures[]
  /** Jobs with `memory`: the broker side's RSS before, under and after the load (`brokerRssKb` is at the window's end). */
  memory?: MemoryFigures
}

/** The broker side's RSS in KiB around a load (PubSubJob's `memory`). */
export interface MemoryFigures {
  /** Every client connected and subscribed, nothing published yet. */
  idleKb: number
  /** The highest reading from the first publish to the end of the window. */
  peakKb: number
  /** `settleMs` after the last client disconnected. */
  afterKb: number
  settleMs: number
}

/** One process's part of a run's broker figures. */
export interface ProcessFigures {
  name: string
  cpuUsPerDelivery: number
  /** In percent of one core. */
  cpuPercent: number
  /** Its write system calls per delivered message. */
  writesPerDelivery: number
  rssKb: number
}

export interface IdleResult {
  kind: 'idle'
  opened: number
  failed: number
  firstError: string | undefined
  rssBeforeKb: number
  rssAfterKb: number
  kbPerConnection: number
  /** The same from before the first connection, the warm-up included: what a broker with only these would use (after the preload, with one). */
  kbPerConnectionFromStart: number
  /** With `gcSignal`: the figure from the reading after the connections taken before that collection. */
  kbPerConnectionUncollected?: number
  /** With `others`: what each of those processes' RSS grew by per counted connection. */
  others?: Array<{ name: string; kbPerConnection: number }>
  /** With a preload: the broker's RSS before and after it (its clients gone), and what it delivered and lost. */
  preload?: { rssBeforeKb: number; rssAfterKb: number; delivered: number; lost: number }
}

export type LoadResult = PubSubResult | IdleResult
