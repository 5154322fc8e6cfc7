import type { Scenario } from './scenario.js'

const CONNECTIONS = 5000
const WARMUP = 200

/** Scenario 8: memory per idle browser-style connection. */
export const idleWebSockets: Scenario = {
  number: 8,
  short: 'Idle WebSockets',
  title: `${CONNECTIONS.toLocaleString('en')} idle MQTT-over-WebSocket connections`,
  method: `The generator opens ${WARMUP} WebSocket connections (subprotocol \`mqtt\`, CONNECT with keepalive 0, CONNACK awaited) and keeps them, so that what a broker sets up once (its caches, its heap's working size) is not counted; then ${CONNECTIONS.toLocaleString('en')} more the same way: broker RSS after them, minus before, divided by ${CONNECTIONS.toLocaleString('en')}.`,
  cases: [
    {
      id: 'idle-ws',
      label: `${CONNECTIONS} connections`,
      peers: ['switchyard', 'aedes', 'mosquitto'],
      websocket: true,
      chart: 'kb-per-connection',
      measure(peer, { runLoad }) {
        if (!peer.wsUrl) throw new Error('the peer was started without a WebSocket listener')
        return runLoad({ kind: 'idle-ws', url: peer.wsUrl, brokerPid: peer.pid, connections: CONNECTIONS, warmup: WARMUP, concurrency: 50, settleMs: 1500 })
      },
    },
  ],
}
