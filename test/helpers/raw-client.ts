import mqttPacket, { type IConnectPacket, type Packet } from 'mqtt-packet'
import { createConnection, type Socket } from 'node:net'
import { within } from './wait.js'

/**
 * An MQTT 3.1.1 connection on a plain socket, for what MQTT.js hides: the
 * order of the packets the broker sends, and packets MQTT.js would not send
 * (a retransmit with DUP set, to another broker).
 */
export class RawClient {
  /** Every packet received, in order. */
  readonly packets: Packet[] = []
  readonly closed: Promise<void>
  #waiters: Array<() => void> = []

  private constructor(private readonly socket: Socket) {
    const parser = mqttPacket.parser({ protocolVersion: 4 })
    parser.on('packet', (packet) => {
      this.packets.push(packet)
      for (const w of this.#waiters) w()
    })
    socket.on('data', (data) => parser.parse(data))
    socket.on('error', () => {})
    this.closed = new Promise((resolve) => socket.once('close', () => resolve()))
  }

  /** Opens a connection to 127.0.0.1:`port` and sends a CONNECT with `connect`'s fields. */
  static async connect(port: number, connect: Partial<IConnectPacket> & { clientId: string }): Promise<RawClient> {
    const client = await RawClient.open(port)
    client.send({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, keepalive: 60, ...connect })
    return client
  }

  /** Opens a connection to 127.0.0.1:`port` and sends nothing yet. */
  static async open(port: number): Promise<RawClient> {
    const socket = createConnection({ port, host: '127.0.0.1' })
    await within(new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject)), 5000, `a TCP connection to port ${port}`)
    return new RawClient(socket)
  }

  send(packet: Packet): void {
    this.socket.write(mqttPacket.generate(packet))
  }

  /** Sends bytes as they are: packets that mqtt-packet would not make. */
  write(bytes: Buffer): void {
    this.socket.write(bytes)
  }

  /** Resolves with the first received packet that `match` accepts (from the start), or rejects after `ms`. */
  next(match: (packet: Packet) => boolean, ms = 5000, what = 'a packet'): Promise<Packet> {
    return within(new Promise<Packet>((resolve) => {
      const check = () => {
        const found = this.packets.find(match)
        if (!found) return
        this.#waiters = this.#waiters.filter((w) => w !== check)
        resolve(found)
      }
      this.#waiters.push(check)
      check()
    }), ms, what)
  }

  /** The first packet the broker sent. */
  first(ms = 5000): Promise<Packet> {
    return this.next(() => true, ms, 'the first packet')
  }

  /** Closes the socket without a DISCONNECT (as a network drop would). */
  async drop(): Promise<void> {
    this.socket.destroy()
    await this.closed
  }

  /** Sends DISCONNECT and closes. */
  async disconnect(): Promise<void> {
    this.send({ cmd: 'disconnect' })
    this.socket.end()
    await this.closed
  }
}
