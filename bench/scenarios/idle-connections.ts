import type { IdleJob } from '../load/job.js'
import type { PeerId } from '../peers/registry.js'
import { pubSubJob } from './pubsub-case.js'
import type { BenchCase, Scenario } from './scenario.js'

const CONNECTIONS = 5000
const WARMUP = 200
/** Connections counted in the cases from an empty broker and after load. */
const IDLE = 3000
const PEERS: readonly PeerId[] = ['switchyard', 'aedes', 'mosquitto']
/**
 * The load before the "after load" cases: scenario 1's 10 → 10 fan-out at
 * QoS 0, the same few seconds in quick and full runs, so that both measure
 * a broker in the same state.
 */
const PRELOAD_WINDOWS = { warmupMs: 1000, measureMs: 4000, drainMs: 10_000 }
const SETTLE_MS = 1500

const count = (n: number) => n.toLocaleString('en')

export const IDLE_WEBSOCKETS_METHOD = `The generator opens ${WARMUP} WebSocket connections (subprotocol \`mqtt\`, CONNECT with keepalive 0, CONNACK awaited) and keeps them, so that what a broker sets up once (its caches, its heap's working size) is not counted; then ${count(CONNECTIONS)} more the same way: broker RSS after them, minus before, divided by ${count(CONNECTIONS)}.`

const IDLE_METHOD = `${IDLE_WEBSOCKETS_METHOD} The other cases open ${count(IDLE)} connections, over WebSocket or over TCP (CONNECT with keepalive 0, CONNACK awaited), with no warm-up: on a broker just started ("empty"), and on one that has first carried scenario 1's fan-out at QoS 0 (10 publishers, 10 subscribers, ${(PRELOAD_WINDOWS.warmupMs + PRELOAD_WINDOWS.measureMs) / 1000} s) whose clients have then disconnected ("after load"): broker RSS after them, minus before, divided by ${count(IDLE)}. In these cases the Node brokers (Switchyard, plain Aedes; not Mosquitto, which has no collector) run full garbage collections ${SETTLE_MS / 1000} s after the last change and a second before each reading (\`--expose-gc\`, \`peers/gc-probe.mjs\` on SIGUSR2): without them, the figure after load of one build moved between −9 and +28 KB from one round to the next, as the garbage of the load and of the handshakes was or was not collected between the two readings. The notes give the figure from the reading taken before the last collection. After load is the figure the targets hold Switchyard to: a broker in service has carried messages before.`

interface IdleOptions {
  transport: IdleJob['transport']
  connections: number
  warmup: number
  /** Carry the fan-out load first. */
  loaded?: boolean
  /** Read RSS after a full collection in the Node brokers (peers/gc-probe.mjs). */
  collected?: boolean
}

/**
 * Idle connections to a peer's first node (the one broker, or node-a of a
 * cluster): that process's RSS is the figure; a cluster's other processes
 * (its other nodes, its Redis) are read too, and shown beside it.
 */
function idleCase(id: string, label: string, peers: readonly PeerId[], options: IdleOptions): BenchCase {
  return {
    id,
    label,
    peers,
    websocket: true,
    ...(options.collected ? { collectOnSignal: true } : {}),
    chart: 'kb-per-connection',
    measure(peer, { runLoad }) {
      if (options.transport === 'ws' && !peer.wsUrl) throw new Error('the peer was started without a WebSocket listener')
      const others = peer.processes.filter((p) => p.pid !== peer.pid).map(({ name, pid }) => ({ name, pid }))
      return runLoad({
        kind: 'idle',
        transport: options.transport,
        ...(options.transport === 'ws' ? { url: peer.wsUrl! } : { port: peer.mqttPort }),
        brokerPid: peer.pid,
        connections: options.connections,
        warmup: options.warmup,
        concurrency: 50,
        settleMs: SETTLE_MS,
        ...(options.collected && peer.gcSignal ? { gcSignal: peer.gcSignal } : {}),
        ...(others.length > 0 ? { others } : {}),
        ...(options.loaded ? { preload: pubSubJob({ qos: 0, publishers: 10, subscribers: 10 }, peer, PRELOAD_WINDOWS) } : {}),
      })
    },
  }
}

/** Scenario 8's first case: WebSocket connections past a warm-up of 200 (also scenario 11's, on a cluster). */
export function idleWebSocketCase(id: string, peers: readonly PeerId[], label = `${CONNECTIONS} connections`): BenchCase {
  return idleCase(id, label, peers, { transport: 'ws', connections: CONNECTIONS, warmup: WARMUP })
}

/** Scenario 8: memory per idle connection, browser-style and plain TCP. */
export const idleConnections: Scenario = {
  number: 8,
  short: 'Idle connections',
  title: 'Idle MQTT connections: over WebSocket and TCP, on an empty broker and after load',
  method: IDLE_METHOD,
  cases: [
    idleWebSocketCase('idle-ws', PEERS, `WebSocket, ${count(CONNECTIONS)} past ${WARMUP}`),
    idleCase('idle-ws-empty', `WebSocket, ${count(IDLE)} on an empty broker`, PEERS, { transport: 'ws', connections: IDLE, warmup: 0, collected: true }),
    idleCase('idle-ws-loaded', `WebSocket, ${count(IDLE)} after load`, PEERS, { transport: 'ws', connections: IDLE, warmup: 0, loaded: true, collected: true }),
    idleCase('idle-tcp-empty', `TCP, ${count(IDLE)} on an empty broker`, PEERS, { transport: 'tcp', connections: IDLE, warmup: 0, collected: true }),
    idleCase('idle-tcp-loaded', `TCP, ${count(IDLE)} after load`, PEERS, { transport: 'tcp', connections: IDLE, warmup: 0, loaded: true, collected: true }),
  ],
}
