import type { Aedes } from 'aedes'
import type { Socket } from 'node:net'
import { Counter, Gauge, type Registry } from 'prom-client'
import { transportOf, type Transport } from './connection-info.js'
import { clientsById } from './internals/index.js'

/**
 * Broker metrics. Bytes are read from the sockets' own counters when scraped,
 * so counting them costs nothing per message; messages are counted in plain
 * numbers, which the counters read when scraped (prom-client's `inc`
 * allocates on every call, and messages out are counted per delivery).
 */
export class BrokerMetrics {
  #messagesIn = 0
  #messagesOut = 0
  readonly #sockets = new Set<Socket>()
  #closedBytesIn = 0
  #closedBytesOut = 0

  constructor(registry: Registry, broker: Aedes) {
    const sockets = this.#sockets
    const self = this
    const counted = (name: string, help: string, read: () => number) =>
      new Counter({
        name,
        help,
        registers: [registry],
        collect() {
          this.reset()
          this.inc(read())
        },
      })
    counted('switchyard_mqtt_messages_in_total', 'PUBLISH packets received from clients', () => self.#messagesIn)
    counted('switchyard_mqtt_messages_out_total', 'PUBLISH packets sent to subscribers', () => self.#messagesOut)
    new Gauge({
      name: 'switchyard_mqtt_connections',
      help: 'Connected MQTT clients by transport',
      labelNames: ['transport'],
      registers: [registry],
      collect() {
        const counts: Record<Transport, number> = { tcp: 0, tls: 0, ws: 0, wss: 0 }
        const clients = clientsById(broker)
        for (const id in clients) counts[transportOf(clients[id]!)]++
        for (const [transport, n] of Object.entries(counts)) this.set({ transport }, n)
      },
    })
    const socketBytes = (direction: 'in' | 'out', closed: () => number, live: (s: Socket) => number) =>
      new Counter({
        name: `switchyard_mqtt_bytes_${direction}_total`,
        help: `Bytes ${direction === 'in' ? 'received' : 'sent'} on MQTT connections (TCP and WebSocket, framing included)`,
        registers: [registry],
        collect() {
          let total = closed()
          for (const s of sockets) total += live(s)
          this.reset()
          this.inc(total)
        },
      })
    socketBytes('in', () => self.#closedBytesIn, (s) => s.bytesRead)
    socketBytes('out', () => self.#closedBytesOut, (s) => s.bytesWritten)
  }

  /** A client's PUBLISH was accepted. */
  messageIn(): void {
    this.#messagesIn++
  }

  /** A PUBLISH is on its way to a subscriber. */
  messageOut(): void {
    this.#messagesOut++
  }

  /** Open MQTT connections on every listener. */
  get openConnections(): number {
    return this.#sockets.size
  }

  /** Counts a connection's bytes from now until it closes. */
  track(socket: Socket): void {
    this.#sockets.add(socket)
    socket.on('close', this.#untrack)
  }

  // One listener for every socket (a socket closes once).
  readonly #untrack = ((metrics: BrokerMetrics) => function untrack(this: Socket): void {
    metrics.#sockets.delete(this)
    metrics.#closedBytesIn += this.bytesRead
    metrics.#closedBytesOut += this.bytesWritten
  })(this)
}
