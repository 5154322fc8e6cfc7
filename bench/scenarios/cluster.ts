import type { PeerId } from '../peers/registry.js'
import { FAN_OUT_METHOD, fanOutCases } from './fan-out.js'
import { fixedRateCase } from './fixed-rate-latency.js'
import { IDLE_WEBSOCKETS_METHOD, idleWebSocketCase } from './idle-connections.js'
import { pubSubCase } from './pubsub-case.js'
import type { Scenario } from './scenario.js'

/**
 * Scenarios 9 to 11: the single-broker scenarios 1, 2 and 8 on a Switchyard
 * cluster (peers/switchyard-cluster.ts), beside one Switchyard in the same
 * rounds. The cross-node cases put the publishers on node-a and the
 * subscribers on the last node, so that every delivery crosses the cluster:
 * XADD to the stream by node-a, read by every node.
 */

const CLUSTER_SETUP = 'The cluster is Redis 7 (append-only file on, `appendfsync everysec`, rewritten as it grows; no RDB snapshots) and two `switchyard start` nodes sharing it (`cluster: { redis, nodeId }`, the other settings their defaults), all three pinned to the core a single broker gets.'
const CLUSTER_CPU = '**CPU per delivery is the sum over the nodes and Redis** (utime + stime of each, what Redis\' forked AOF rewrites use included; RSS is the sum too), so that it compares with one Switchyard\'s; the notes give each process\'s part.'

const SINGLE_AND_CLUSTER: readonly PeerId[] = ['switchyard', 'switchyard-cluster']

/** Scenario 9: what a delivery costs when it crosses from one node to another, against one broker. */
export const clusterFanOut: Scenario = {
  number: 9,
  short: 'Cluster fan-out',
  title: 'Cluster fan-out, saturated: published on node-a, delivered on node-b',
  method: `${FAN_OUT_METHOD} The publishers connect to node-a and the subscribers to the cluster's last node; then, for comparison, every client to node-a (nothing has to cross, but node-a still writes every message to the stream and the other node still reads it). ${CLUSTER_SETUP} ${CLUSTER_CPU} *Switchyard cluster, 3 nodes* adds a node that no client connects to: what one more node costs, since every node reads every message.`,
  cases: [
    ...fanOutCases({ id: 'cluster-fan-out', peers: [...SINGLE_AND_CLUSTER, 'switchyard-cluster-3'], where: 'published on node-a, delivered on the last node', placement: 'cross-node' }),
    ...fanOutCases({ id: 'cluster-fan-out-local', peers: ['switchyard-cluster'], where: 'every client on node-a', placement: 'same-node' }),
  ],
}

/** Scenario 10: latency across two nodes when nothing is saturated. */
export const clusterLatency: Scenario = {
  number: 10,
  short: 'Cluster rate',
  title: 'Cluster latency at a fixed rate, published on node-a, delivered on node-b',
  method: `10 publishers on node-a, paced every millisecond, QoS 1: 2,000 messages/s to 10 subscribers on \`bench/+/x\` on node-b (20,000 deliveries a second), and scenario 2's 5,000 messages/s to one subscriber on node-b; on Switchyard alone every client is on the one broker. Latency from the publisher's write to the subscriber's read: across the cluster through node-a's XADD, Redis and node-b's blocking XREAD. ${CLUSTER_SETUP} ${CLUSTER_CPU}`,
  cases: [
    fixedRateCase({ id: 'cluster-fixed-rate-qos1', label: 'QoS 1, 2,000/s to 10 subscribers, published on node-a, delivered on node-b', peers: SINGLE_AND_CLUSTER, qos: 1, ratePerSecond: 2000, subscribers: 10, placement: 'cross-node' }),
    fixedRateCase({ id: 'cluster-fixed-rate-1-qos1', label: 'QoS 1, 5,000/s to 1 subscriber, published on node-a, delivered on node-b', peers: SINGLE_AND_CLUSTER, qos: 1, ratePerSecond: 5000, subscribers: 1, placement: 'cross-node' }),
  ],
}

/** Scenario 11: what an idle connection costs a node in cluster mode. */
export const clusterIdleWebSockets: Scenario = {
  number: 11,
  short: 'Cluster idle WS',
  title: 'Idle MQTT-over-WebSocket connections on a cluster node',
  method: `${IDLE_WEBSOCKETS_METHOD} On the cluster, every connection goes to node-a and the figure is node-a's RSS; what node-b's and Redis' RSS grew by per connection is in the notes (a node records each client in Redis and announces it on the stream). ${CLUSTER_SETUP}`,
  cases: [idleWebSocketCase('cluster-idle-ws', SINGLE_AND_CLUSTER)],
}

/** Scenario 12: scenario 7's functions behind a rule, on a cluster whose outbox is in Redis. */
export const clusterFunctions: Scenario = {
  number: 12,
  short: 'Cluster functions',
  title: 'Cluster functions: a rule invoking a local function, published on node-a, results delivered on node-b',
  method: `Scenario 7's rule and function (\`echo\` publishes the event on to \`bench-fn/<i>\` with \`ctx.publish\`), saturated (10 publishers, QoS 0: invocations per second) and at a fixed 1,000 per second (latency from the original publish to the function's publish arriving). On the cluster the publishers connect to node-a and the subscriber to node-b: each delivery is recorded in the outbox in Redis before the publish is handled, claimed with a lease by whichever node's dispatcher looks first (node-a wakes its own as it records; node-b looks every second, and takes over what a dead node leased once the lease runs out), invoked in that node's worker pool and completed in Redis; a result published on node-a crosses to node-b through the stream. On Switchyard alone every client is on the one broker and the outbox is its SQLite file. ${CLUSTER_SETUP} ${CLUSTER_CPU}`,
  cases: [
    pubSubCase({ id: 'cluster-functions-saturated', label: 'Saturated, published on node-a, results delivered on node-b', peers: ['switchyard-fn', 'switchyard-cluster-fn'], qos: 0, publishers: 10, subscribers: 1, filter: 'bench-fn/+', unordered: true, chart: 'cpu-per-delivery', placement: 'cross-node' }),
    pubSubCase({ id: 'cluster-functions-rate', label: '1,000 invocations per second, published on node-a, results delivered on node-b', peers: ['switchyard-fn', 'switchyard-cluster-fn'], qos: 0, publishers: 10, subscribers: 1, filter: 'bench-fn/+', unordered: true, ratePerSecond: 1000, placement: 'cross-node' }),
  ],
}
