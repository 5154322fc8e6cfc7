import type { Client } from 'aedes'
import type { Socket } from 'node:net'
import type { Limits } from './limits.js'
import { sourceOf } from './source-address.js'

/** An admitted connection, from its socket's acceptance until it closes. */
export interface Ticket {
  readonly socket: Socket
  readonly address: string
  /** The address as its connections are counted (IPv6: the /64). */
  readonly key: string
  /** When it was accepted, by performance.now(). */
  readonly since: number
  /** Not yet past its CONNECT. */
  pending: boolean
  closed: boolean
}

interface Counts {
  open: number
  pending: number
}

/**
 * Decides which new connections get a slot, before any of their bytes is
 * read, and closes those that take too long to say CONNECT. The limits
 * (`limits.maxConnectionsPerAddress`, `maxPendingConnectionsPerAddress`,
 * `maxPendingConnections`, `connectTimeout`) are about connections that
 * have not said who they are: before CONNECT a socket costs the broker
 * memory and a slot of `maxConnections` and costs its sender nothing, so
 * each address gets a small budget of them, all addresses together a tenth
 * of the slots, and each one `connectTimeout` to use it.
 *
 * A connection is pending from its acceptance (a TLS socket's, before its
 * handshake; a WebSocket's, from its upgrade) until Aedes reads its CONNECT,
 * whatever the answer: a refused CONNECT ends the connection at once.
 */
export class Admission {
  readonly #limits: Limits
  readonly #byAddress = new Map<string, Counts>()
  /** Pending connections, oldest first (a Set iterates in insertion order). */
  readonly #pending = new Set<Ticket>()
  readonly #clients = new WeakMap<Client, Ticket>()
  readonly #sockets = new WeakMap<Socket, Ticket>()
  #timer: NodeJS.Timeout | undefined

  constructor(limits: Limits) {
    this.#limits = limits
  }

  /**
   * A ticket for a new connection, or undefined when its address has used
   * its budget: the caller then closes it as its transport does (a socket is
   * destroyed, a WebSocket upgrade answered 429). When every address
   * together has, the connection that has waited longest for its CONNECT is
   * closed to make room, rather than the new one refused: otherwise sockets
   * that say nothing, from enough addresses, would lock out every newcomer,
   * where now they must be opened faster than a client's round trip.
   */
  admit(socket: Socket): Ticket | undefined {
    const address = socket.remoteAddress
    // No address: the socket closed before it was handed over.
    if (address === undefined) return undefined
    const config = this.#limits.config
    const key = sourceOf(address)
    const counts = this.#byAddress.get(key) ?? { open: 0, pending: 0 }
    if (counts.open >= config.maxConnectionsPerAddress) {
      this.#limits.exceeded('connections_per_address', `connection refused: ${counts.open} connections from ${key} are open, the limit is ${config.maxConnectionsPerAddress}`, { remoteAddress: address })
      return undefined
    }
    if (counts.pending >= config.maxPendingConnectionsPerAddress) {
      this.#limits.exceeded('pending_connections_per_address', `connection refused: ${counts.pending} connections from ${key} have not sent CONNECT yet, the limit is ${config.maxPendingConnectionsPerAddress}`, { remoteAddress: address })
      return undefined
    }
    while (this.#pending.size >= config.maxPendingConnections) {
      const oldest = this.#pending.values().next().value!
      const waited = Math.round(performance.now() - oldest.since)
      this.#limits.exceeded('pending_connections', `${this.#pending.size} connections have not sent CONNECT yet, the limit is ${config.maxPendingConnections}: closing the one that waited longest (${waited} ms)`, { remoteAddress: oldest.address })
      this.#close(oldest)
    }
    const ticket: Ticket = { socket, address, key, since: performance.now(), pending: true, closed: false }
    this.#byAddress.set(key, counts)
    counts.open++
    counts.pending++
    this.#pending.add(ticket)
    this.#sockets.set(socket, ticket)
    socket.on('close', this.#closed)
    this.#schedule()
    return ticket
  }

  // One listener for every socket (a socket closes once).
  readonly #closed = ((admission: Admission) => function closed(this: Socket): void {
    const ticket = admission.#sockets.get(this)
    if (ticket) admission.#release(ticket)
  })(this)

  /** Ties the ticket to the Aedes client of its connection, which `connected` is called with. */
  attach(client: Client, ticket: Ticket): void {
    this.#clients.set(client, ticket)
  }

  /** The client's CONNECT has been read: its connection is no longer pending. */
  connected(client: Client): void {
    const ticket = this.#clients.get(client)
    if (!ticket?.pending || ticket.closed) return
    ticket.pending = false
    this.#pending.delete(ticket)
    this.#byAddress.get(ticket.key)!.pending--
  }

  /** Whether the connection of `ticket` still waits for its CONNECT. */
  isPending(ticket: Ticket): boolean {
    return ticket.pending && !ticket.closed
  }

  /** Closes the connection now, and frees its place at once (its socket's close event comes later). */
  #close(ticket: Ticket): void {
    this.#release(ticket)
    ticket.socket.destroy()
  }

  #release(ticket: Ticket): void {
    if (ticket.closed) return
    ticket.closed = true
    const counts = this.#byAddress.get(ticket.key)!
    counts.open--
    if (ticket.pending) {
      counts.pending--
      this.#pending.delete(ticket)
    }
    if (counts.open === 0) this.#byAddress.delete(ticket.key)
  }

  /**
   * One timer, for the oldest pending connection's deadline: pending
   * connections are in the order they were accepted, so the ones past
   * `connectTimeout` are at the front. When the oldest sends its CONNECT the
   * timer stays; it then finds nothing due and moves on to the next.
   */
  #schedule(): void {
    if (this.#timer || this.#pending.size === 0) return
    const oldest = this.#pending.values().next().value!
    const delay = oldest.since + this.#limits.config.connectTimeout - performance.now()
    this.#timer = setTimeout(() => this.#expire(), Math.max(0, delay)).unref()
  }

  #expire(): void {
    this.#timer = undefined
    const timeout = this.#limits.config.connectTimeout
    const now = performance.now()
    for (const ticket of this.#pending) {
      if (ticket.since + timeout > now) break
      this.#limits.exceeded('connect_timeout', `no CONNECT within ${timeout} ms of connecting; closing the connection`, { remoteAddress: ticket.address })
      this.#close(ticket)
    }
    this.#schedule()
  }
}
