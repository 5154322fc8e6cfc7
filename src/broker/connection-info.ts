import type { Client, ConnectPacket } from 'aedes'
import { randomUUID } from 'node:crypto'
import type { TLSSocket } from 'node:tls'

export type Transport = 'tcp' | 'tls' | 'ws' | 'wss'

/** Why a connection ended; the names follow AWS IoT's lifecycle events. */
export type DisconnectReason =
  | 'CLIENT_INITIATED_DISCONNECT'
  | 'CONNECTION_LOST'
  | 'DUPLICATE_CLIENTID'
  | 'MQTT_KEEP_ALIVE_TIMEOUT'
  | 'CLIENT_ERROR'
  | 'SERVER_INITIATED_DISCONNECT'

export interface ConnectionInfo {
  /** An id new for each connection: the client id's binding and its persistent session know by it which connection holds them. */
  connection: string
  transport: Transport
  ipAddress: string | undefined
  username: string | undefined
  keepAlive: number
  protocolVersion: number
  cleanSession: boolean
  /** The CONNECT gave no client id: the broker made one up (`aedes_{uuid}`). */
  generatedId: boolean
  /** Set when something other than the socket closing decides the reason. */
  disconnectReason?: DisconnectReason
  errorMessage?: string
}

/**
 * A new connection's id: a UUID, as one flat string. Node's `randomUUID`
 * joins its result from 36 pieces, and V8 keeps a string made so as the
 * tree of its joins until something reads it by character, which flattens
 * it where it is: 490 bytes of heap for as long as the connection lasts,
 * against 67 (connection-info.test.ts).
 */
export function newConnectionId(): string {
  const id = randomUUID()
  id.charCodeAt(0)
  return id
}

/**
 * What Switchyard knows about each connection beyond what Aedes keeps: the
 * transport, the peer address and the username, which Aedes reads during
 * CONNECT and then forgets.
 */
export class Connections {
  readonly #info = new WeakMap<Client, ConnectionInfo>()

  /** Called from the broker's preConnect hook, before authentication. */
  record(client: Client, packet: ConnectPacket): ConnectionInfo {
    const info: ConnectionInfo = {
      connection: newConnectionId(),
      transport: transportOf(client),
      ipAddress: ipAddressOf(client),
      username: packet.username,
      keepAlive: packet.keepalive ?? 0,
      protocolVersion: packet.protocolVersion ?? 4,
      cleanSession: packet.clean !== false,
      generatedId: !packet.clientId,
    }
    this.#info.set(client, info)
    return info
  }

  get(client: Client): ConnectionInfo | undefined {
    return this.#info.get(client)
  }

  /** The username as authentication established it (a token's claim, say). */
  setUsername(client: Client, username: string | undefined): void {
    const info = this.#info.get(client)
    if (info) info.username = username
  }

  /** Keeps the first reason given: the cause, not what followed from it. */
  setReason(client: Client, reason: DisconnectReason, message?: string): void {
    const info = this.#info.get(client)
    if (info && !info.disconnectReason) {
      info.disconnectReason = reason
      if (message) info.errorMessage = message
    }
  }
}

export function transportOf(client: Client): Transport {
  if (client.req) return (client.req.socket as TLSSocket).encrypted ? 'wss' : 'ws'
  return (client.conn as TLSSocket).encrypted ? 'tls' : 'tcp'
}

export function ipAddressOf(client: Client): string | undefined {
  const socket = client.req ? client.req.socket : (client.conn as { remoteAddress?: string })
  return socket?.remoteAddress
}
