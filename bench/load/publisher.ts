import { generate } from 'mqtt-packet'
import type { MqttConnection } from './mqtt-connection.js'
import { payloadTemplate, writeFields } from './payload.js'

const PINGREQ = Buffer.from([0xc0, 0x00])

/**
 * One publishing client. A PUBLISH is generated once as a template; each send
 * copies it and patches the packet id and the payload fields in place, and a
 * batch of publishes leaves in a single write.
 *
 * With `pingEvery`, a PINGREQ follows every that many publishes; its
 * PINGRESP confirms that the broker has taken in everything sent before it
 * (a broker handles one client's packets in order).
 */
export class Publisher {
  sent = 0
  /** QoS 1 publishes without a PUBACK yet. */
  unacked = 0
  /** Publishes confirmed by a PINGRESP. */
  confirmed = 0
  /** Set while the publisher waits in the pump queue, so it is queued once. */
  queued = false
  #nextId = 1
  readonly #template: Buffer
  readonly #payloadAt: number
  readonly #idAt: number
  readonly #pingEvery: number
  /** `sent` at each PINGREQ not yet answered, oldest first. */
  readonly #pings: number[] = []
  #pinged = 0

  constructor(
    readonly index: number,
    readonly connection: MqttConnection,
    readonly qos: 0 | 1,
    payloadBytes: number,
    onAck: (publisher: Publisher) => void,
    options: { topic?: string | undefined; members?: string | undefined; pingEvery?: number | undefined } = {},
  ) {
    this.#pingEvery = options.pingEvery ?? 0
    const payload = payloadTemplate(payloadBytes, options.members)
    this.#template = generate({ cmd: 'publish', topic: options.topic ?? `bench/${index}/x`, payload, qos, messageId: qos ? 1 : undefined, retain: false, dup: false })
    this.#payloadAt = this.#template.length - payload.length
    // In a QoS 1 PUBLISH the packet id sits right before the payload.
    this.#idAt = this.#payloadAt - 2
    connection.onPacket((packet) => {
      if (packet.cmd === 'puback') {
        this.unacked--
      } else if (packet.cmd === 'pingresp') {
        this.confirmed = this.#pings.shift() ?? this.confirmed
      } else {
        return
      }
      onAck(this)
    })
  }

  /** Asks for confirmation of what was sent since the last PINGREQ (at the end of a run). */
  ping(): void {
    if (this.sent === this.#pinged) return
    this.#pings.push((this.#pinged = this.sent))
    this.connection.write(PINGREQ)
  }

  /** Sends `count` publishes, all stamped with the send time `nowNs`. */
  send(count: number, nowNs: number): void {
    if (count <= 0) return
    const size = this.#template.length
    const every = this.#pingEvery
    const pings = every > 0 ? Math.floor((this.sent + count) / every) - Math.floor(this.sent / every) : 0
    const batch = Buffer.allocUnsafe(size * count + PINGREQ.length * pings)
    let at = 0
    for (let k = 0; k < count; k++) {
      this.#template.copy(batch, at)
      if (this.qos) {
        batch.writeUInt16BE(this.#nextId, at + this.#idAt)
        this.#nextId = this.#nextId === 65535 ? 1 : this.#nextId + 1
      }
      writeFields(batch, at + this.#payloadAt, nowNs, this.index, this.sent++)
      at += size
      if (every > 0 && this.sent % every === 0) {
        PINGREQ.copy(batch, at)
        at += PINGREQ.length
        this.#pings.push((this.#pinged = this.sent))
      }
    }
    if (this.qos) this.unacked += count
    this.connection.write(batch)
  }
}
