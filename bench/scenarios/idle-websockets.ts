import type { Scenario } from './scenario.js'

const CONNECTIONS = 5000

/** Scenario 8: memory per idle browser-style connection. */
export const idleWebSockets: Scenario = {
  number: 8,
  short: 'Idle WebSockets',
  title: `${CONNECTIONS.toLocaleString('en')} idle MQTT-over-WebSocket connections`,
  method: `The generator opens ${CONNECTIONS.toLocaleString('en')} WebSocket connections (subprotocol \`mqtt\`), sends CONNECT with keepalive 0 on each and waits for CONNACK; broker RSS after, minus before, divided by the connections.`,
  cases: [
    {
      id: 'idle-ws',
      label: `${CONNECTIONS} connections`,
      peers: ['switchyard', 'aedes', 'mosquitto'],
      websocket: true,
      chart: 'kb-per-connection',
      measure(peer, { runLoad }) {
        if (!peer.wsUrl) throw new Error('the peer was started without a WebSocket listener')
        return runLoad({ kind: 'idle-ws', url: peer.wsUrl, brokerPid: peer.pid, connections: CONNECTIONS, concurrency: 50, settleMs: 1500 })
      },
    },
  ],
}
