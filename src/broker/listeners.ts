import type { Aedes } from 'aedes'
import { createServer, type Server, type Socket } from 'node:net'
import type { IncomingMessage, Server as HttpServer } from 'node:http'
import type { Duplex } from 'node:stream'
import type { Logger } from 'pino'
import { createWebSocketStream, WebSocketServer } from 'ws'
import type { ListenAddress } from '../config/schema.js'
import { ListenError } from '../errors.js'
import type { BrokerMetrics } from './broker-metrics.js'

export const MQTT_WS_PATH = '/mqtt'

/** Starts the MQTT over TCP listener. */
export async function listenTcp(aedes: Aedes, address: ListenAddress, metrics: BrokerMetrics, log: Logger): Promise<Server> {
  const server = createServer((socket) => {
    socket.setNoDelay(true)
    metrics.track(socket)
    aedes.handle(socket)
  })
  await listen(server, address, 'MQTT')
  log.info({ address: server.address() }, 'MQTT over TCP listening')
  return server
}

/**
 * Serves MQTT over WebSocket at `/mqtt` on an HTTP server. Other upgrade
 * requests are refused, so the HTTP server can carry other routes.
 */
export function attachWebSocket(aedes: Aedes, http: HttpServer, metrics: BrokerMetrics, log: Logger): WebSocketServer {
  const wss = new WebSocketServer({
    noServer: true,
    // MQTT over WebSocket is binary; per-message compression costs memory per connection.
    perMessageDeflate: false,
    handleProtocols: (protocols) => {
      // MQTT.js and browsers offer 'mqtt' (3.1.1) or 'mqttv3.1'.
      for (const p of ['mqtt', 'mqttv3.1']) if (protocols.has(p)) return p
      return false
    },
  })
  http.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const path = (req.url ?? '').split('?')[0]
    if (path !== MQTT_WS_PATH) {
      socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\n\r\n')
      return
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      metrics.track(req.socket as Socket)
      const stream = createWebSocketStream(ws)
      // A broken WebSocket must end only its own connection.
      stream.on('error', (err) => log.debug({ err: err.message }, 'WebSocket stream error'))
      aedes.handle(stream, req)
    })
  })
  return wss
}

export function listen(server: Server | HttpServer, address: ListenAddress, what: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException) => {
      const reason = err.code === 'EADDRINUSE' ? 'the port is already in use'
        : err.code === 'EACCES' ? 'permission denied (ports below 1024 need privileges)'
          : err.code === 'EADDRNOTAVAIL' ? 'that address is not on this machine'
            : err.message
      reject(new ListenError(`cannot listen for ${what} on ${address.host}:${address.port}: ${reason}`, { cause: err }))
    }
    server.once('error', onError)
    server.listen(address.port, address.host, () => {
      server.off('error', onError)
      resolve()
    })
  })
}

/** Stops accepting and resolves once the server is closed (its connections are ended elsewhere). */
export function closeServer(server: Server | HttpServer): Promise<void> {
  return new Promise((resolve) => {
    if (!server.listening) return resolve()
    server.close(() => resolve())
  })
}
