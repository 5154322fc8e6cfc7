import type { PeerId } from '../peers/registry.js'
import type { BenchCase, Scenario } from './scenario.js'

const CONNECTIONS = 5000
const WARMUP = 200

export const IDLE_WEBSOCKETS_METHOD = `The generator opens ${WARMUP} WebSocket connections (subprotocol \`mqtt\`, CONNECT with keepalive 0, CONNACK awaited) and keeps them, so that what a broker sets up once (its caches, its heap's working size) is not counted; then ${CONNECTIONS.toLocaleString('en')} more the same way: broker RSS after them, minus before, divided by ${CONNECTIONS.toLocaleString('en')}.`

/**
 * Idle connections to a peer's first node (the one broker, or node-a of a
 * cluster): that process's RSS is the figure; a cluster's other processes
 * (its other nodes, its Redis) are read too, and shown beside it.
 */
export function idleWebSocketCase(id: string, peers: readonly PeerId[]): BenchCase {
  return {
    id,
    label: `${CONNECTIONS} connections`,
    peers,
    websocket: true,
    chart: 'kb-per-connection',
    measure(peer, { runLoad }) {
      if (!peer.wsUrl) throw new Error('the peer was started without a WebSocket listener')
      const others = peer.processes.filter((p) => p.pid !== peer.pid).map(({ name, pid }) => ({ name, pid }))
      return runLoad({
        kind: 'idle-ws', url: peer.wsUrl, brokerPid: peer.pid, connections: CONNECTIONS, warmup: WARMUP, concurrency: 50, settleMs: 1500,
        ...(others.length > 0 ? { others } : {}),
      })
    },
  }
}

/** Scenario 8: memory per idle browser-style connection. */
export const idleWebSockets: Scenario = {
  number: 8,
  short: 'Idle WebSockets',
  title: `${CONNECTIONS.toLocaleString('en')} idle MQTT-over-WebSocket connections`,
  method: IDLE_WEBSOCKETS_METHOD,
  cases: [idleWebSocketCase('idle-ws', ['switchyard', 'aedes', 'mosquitto'])],
}
