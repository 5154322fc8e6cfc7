import type { Client } from 'aedes'
import { createServer, type Server, type Socket } from 'node:net'
import type { IncomingMessage, Server as HttpServer } from 'node:http'
import type { Duplex } from 'node:stream'
import { createServer as createTlsServer, type SecureContextOptions, type TLSSocket } from 'node:tls'
import type { Logger } from 'pino'
import { type WebSocket, WebSocketServer } from 'ws'
import { ListenError } from '../errors.js'
import type { Ticket } from './admission.js'
import { hostRefused } from './allowed-hosts.js'
import type { Broker } from './broker.js'
import { closeWhenStreamCloses, handleWithSocket, plainBufferList } from './internals/index.js'
import type { ListenAddress } from './listen-schema.js'
import { guardPackets } from './packet-guard.js'
import { limitBytesBeforeConnect } from './websocket-connect-size.js'
import { WebSocketStream } from './websocket-stream.js'

export const MQTT_WS_PATH = '/mqtt'

/**
 * Starts the MQTT listener on TCP, or on TLS (mqtts) when given certificates.
 * Past `limits.maxConnections`, or past its address' budget (Admission), a
 * new connection is closed at once.
 */
export async function listenMqtt(broker: Broker, address: ListenAddress, log: Logger, tls?: SecureContextOptions): Promise<Server> {
  const { aedes, metrics, limits, admission } = broker
  const onConnection = (socket: Socket, ticket: Ticket) => {
    if (!limits.admitsConnection(metrics.openConnections, socket.remoteAddress)) {
      socket.destroy()
      return
    }
    socket.setNoDelay(true)
    metrics.track(socket)
    const client = aedes.handle(socket) as Client
    admission.attach(client, ticket)
    prepare(broker, client)
  }
  const server = tls ? tlsServer(broker, tls, log, onConnection) : createServer((socket) => {
    const ticket = admission.admit(socket)
    if (!ticket) return socket.destroy()
    onConnection(socket, ticket)
  })
  const what = tls ? 'MQTT over TLS' : 'MQTT'
  await listen(server, address, what)
  log.info({ address: server.address() }, `${what} listening`)
  return server
}

/**
 * A TLS socket is handed over after its handshake; one that fails the
 * handshake never reaches the broker. It is admitted before, as the TCP
 * connection under it is accepted: the handshake's time counts towards
 * `connectTimeout`, and sockets that never start one count against their
 * address' budget. The ticket is found again by the peer's address and
 * port, the one thing both sockets tell (the TLS socket keeps the TCP one
 * only in a private property).
 */
function tlsServer(broker: Broker, tls: SecureContextOptions, log: Logger, onConnection: (socket: Socket, ticket: Ticket) => void): Server {
  const { admission } = broker
  const handshaking = new Map<string, Ticket>()
  const peer = (socket: Socket) => `${socket.remoteAddress}|${socket.remotePort}`
  const server = createTlsServer({ ...tls, minVersion: 'TLSv1.2' }, (socket: TLSSocket) => {
    const key = peer(socket)
    const ticket = handshaking.get(key)
    handshaking.delete(key)
    if (!ticket) return socket.destroy()
    onConnection(socket, ticket)
  })
  server.on('connection', (tcp: Socket) => {
    const ticket = admission.admit(tcp)
    if (!ticket) return tcp.destroy()
    const key = peer(tcp)
    handshaking.set(key, ticket)
    tcp.once('close', () => {
      if (handshaking.get(key) === ticket) handshaking.delete(key)
    })
  })
  server.on('tlsClientError', (err: Error, socket: TLSSocket) => log.debug({ err: err.message, remoteAddress: socket.remoteAddress }, 'TLS handshake failed'))
  return server
}

/**
 * Serves MQTT over WebSocket at `/mqtt` on HTTP servers (plain and TLS).
 * Other upgrade requests are refused, so the servers can carry other routes.
 * An upgrade that names another host than this server's, from a page of
 * another origin than those allowed, past the connection limit (503) or
 * past its address' budget (429), is refused before it becomes a
 * WebSocket. The address is the TCP peer's: behind a reverse proxy, the
 * proxy's.
 */
export function attachWebSocket(broker: Broker, servers: HttpServer[], log: Logger): WebSocketServer {
  const { aedes, metrics, limits, admission } = broker
  const wss = new WebSocketServer({
    noServer: true,
    // MQTT over WebSocket is binary; per-message compression costs memory per connection.
    perMessageDeflate: false,
    // A frame carries at most one packet of the largest size allowed (plus
    // its fixed header); larger frames are refused before they are buffered.
    maxPayload: limits.config.maxPacketSize + 5,
    // The server's list of its WebSockets (`wss.clients`), with a listener
    // on each, is read by nothing here: Aedes and the metrics count the
    // connections.
    clientTracking: false,
    handleProtocols: (protocols) => {
      // MQTT.js and browsers offer 'mqtt' (3.1.1) or 'mqttv3.1'.
      for (const p of ['mqtt', 'mqttv3.1']) if (protocols.has(p)) return p
      return false
    },
  })
  const refuse = (socket: Duplex, status: string, text = '') => socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(text)}\r\n\r\n${text}`)
  const onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const path = (req.url ?? '').split('?')[0]
    if (path !== MQTT_WS_PATH) return refuse(socket, '404 Not Found')
    const remoteAddress = req.socket.remoteAddress
    // 421: the request was sent to a server that does not answer for that name [RFC 9110 §15.5.20].
    if (!limits.admitsHost(req.headers.host, remoteAddress)) return refuse(socket, '421 Misdirected Request', hostRefused(req.headers.host!))
    const secure = (req.socket as TLSSocket).encrypted === true
    if (!limits.admitsOrigin(req.headers.origin, req.headers.host, secure, remoteAddress)) return refuse(socket, '403 Forbidden')
    if (!limits.admitsConnection(metrics.openConnections, remoteAddress)) return refuse(socket, '503 Service Unavailable')
    const tcp = req.socket as Socket
    const ticket = admission.admit(tcp)
    if (!ticket) return refuse(socket, '429 Too Many Requests')
    wss.handleUpgrade(req, socket, head, (ws) => serve(ws, tcp, ticket))
  }
  // A broken WebSocket must end only its own connection. One listener for
  // every connection: the stream knows its peer's address.
  const onStreamError = function (this: WebSocketStream, err: Error & { code?: string }) {
    if (err.code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH') {
      limits.exceeded('packet_size', `WebSocket frame larger than the limit of ${limits.config.maxPacketSize} bytes; closing the connection`, { remoteAddress: this.remoteAddress })
    } else {
      log.debug({ err: err.message }, 'WebSocket stream error')
    }
  }
  // Apart from the upgrade handler, so that nothing kept for the connection's
  // life (listeners, Aedes' client) holds on to the upgrade request and its
  // headers: about a kilobyte per idle connection.
  const serve = (ws: WebSocket, tcp: Socket, ticket: Ticket) => {
    metrics.track(tcp)
    limitBytesBeforeConnect(tcp, ticket, admission, limits)
    const stream = new WebSocketStream(ws, tcp, ticket.address)
    stream.on('error', onStreamError)
    // Aedes keeps the request as `client.req`; the socket is all that is read from it.
    const client = handleWithSocket(aedes, stream, tcp)
    admission.attach(client, ticket)
    prepare(broker, client)
  }
  for (const server of servers) server.on('upgrade', onUpgrade)
  return wss
}

/**
 * What a new connection's client gets before Aedes reads a packet: checks on
 * what its parser accepts, and lighter state for the connection's life
 * (bench/LIMITS.md, Idle connections).
 */
function prepare(broker: Broker, client: Client): void {
  broker.limits.guardPacketSize(client)
  guardPackets(client)
  plainBufferList(client)
  closeWhenStreamCloses(client)
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
