import { connect as connectTcp, type Socket } from 'node:net'
import { generate, parser as createParser, type IConnackPacket, type Packet } from 'mqtt-packet'

/**
 * A bare MQTT 3.1.1 connection: mqtt-packet's parser and generator over a TCP
 * socket, and nothing else. MQTT.js acknowledges one QoS 1 message per
 * event-loop turn and cannot saturate a broker; here the caller answers every
 * packet itself and writes in batches.
 */
export class MqttConnection {
  readonly #socket: Socket
  readonly #parser = createParser({ protocolVersion: 4 })
  #onPacket: (packet: Packet) => void = () => {}
  #closing = false
  /** Set when the connection broke while it was not being closed. */
  error: Error | undefined

  private constructor(socket: Socket) {
    this.#socket = socket
    this.#parser.on('packet', (packet: Packet) => this.#onPacket(packet))
    this.#parser.on('error', (err: Error) => this.#fail(err))
    socket.on('data', (chunk: Buffer) => {
      // Answers (PUBACKs) written while parsing one chunk leave in one write.
      socket.cork()
      this.#parser.parse(chunk)
      socket.uncork()
    })
    socket.on('error', (err) => this.#fail(err))
    socket.on('close', () => this.#fail(new Error('the broker closed the connection')))
  }

  /** Connects, sends CONNECT (clean session, no keepalive) and waits for a successful CONNACK. */
  static open(port: number, clientId: string, timeoutMs = 10_000): Promise<MqttConnection> {
    return new Promise((resolve, reject) => {
      const socket = connectTcp({ host: '127.0.0.1', port, noDelay: true })
      const connection = new MqttConnection(socket)
      const timer = setTimeout(() => {
        socket.destroy()
        reject(new Error(`${clientId}: no CONNACK within ${timeoutMs} ms`))
      }, timeoutMs)
      socket.once('error', (err) => {
        clearTimeout(timer)
        reject(err)
      })
      connection.#onPacket = (packet) => {
        clearTimeout(timer)
        const ack = packet as IConnackPacket
        if (packet.cmd !== 'connack' || ack.returnCode !== 0) {
          socket.destroy()
          reject(new Error(`${clientId}: connection refused (${packet.cmd} ${ack.returnCode ?? ''})`))
          return
        }
        connection.#onPacket = () => {}
        resolve(connection)
      }
      socket.write(generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clientId, clean: true, keepalive: 0 }))
    })
  }

  /** Where every packet after CONNACK goes. */
  onPacket(handler: (packet: Packet) => void): void {
    this.#onPacket = handler
  }

  /** Subscribes and waits for the SUBACK. */
  subscribe(filter: string, qos: 0 | 1, timeoutMs = 10_000): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no SUBACK for ${filter} within ${timeoutMs} ms`)), timeoutMs)
      this.#onPacket = (packet) => {
        if (packet.cmd !== 'suback') return
        clearTimeout(timer)
        const granted = (packet as { granted: number[] }).granted[0]
        if (granted === undefined || granted > 2) reject(new Error(`subscription to ${filter} refused`))
        else resolve()
      }
      this.#socket.write(generate({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: filter, qos }] }))
    })
  }

  write(buf: Buffer): void {
    this.#socket.write(buf)
  }

  cork(): void {
    this.#socket.cork()
  }

  uncork(): void {
    this.#socket.uncork()
  }

  /** Sends DISCONNECT and ends the socket. */
  close(): void {
    this.#closing = true
    if (this.#socket.destroyed) return
    this.#socket.end(generate({ cmd: 'disconnect' }))
    this.#socket.destroySoon()
  }

  #fail(err: Error): void {
    if (!this.#closing && !this.error) this.error = err
  }
}
