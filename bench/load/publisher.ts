import { generate } from 'mqtt-packet'
import type { MqttConnection } from './mqtt-connection.js'
import { payloadTemplate, writeFields } from './payload.js'

/**
 * One publishing client. A PUBLISH is generated once as a template; each send
 * copies it and patches the packet id and the payload fields in place, and a
 * batch of publishes leaves in a single write.
 */
export class Publisher {
  sent = 0
  /** QoS 1 publishes without a PUBACK yet. */
  unacked = 0
  /** Set while the publisher waits in the pump queue, so it is queued once. */
  queued = false
  #nextId = 1
  readonly #template: Buffer
  readonly #payloadAt: number
  readonly #idAt: number

  constructor(
    readonly index: number,
    readonly connection: MqttConnection,
    readonly qos: 0 | 1,
    payloadBytes: number,
    onAck: (publisher: Publisher) => void,
    options: { topic?: string | undefined; members?: string | undefined } = {},
  ) {
    const payload = payloadTemplate(payloadBytes, options.members)
    this.#template = generate({ cmd: 'publish', topic: options.topic ?? `bench/${index}/x`, payload, qos, messageId: qos ? 1 : undefined, retain: false, dup: false })
    this.#payloadAt = this.#template.length - payload.length
    // In a QoS 1 PUBLISH the packet id sits right before the payload.
    this.#idAt = this.#payloadAt - 2
    connection.onPacket((packet) => {
      if (packet.cmd !== 'puback') return
      this.unacked--
      onAck(this)
    })
  }

  /** Sends `count` publishes, all stamped with the send time `nowNs`. */
  send(count: number, nowNs: number): void {
    if (count <= 0) return
    const size = this.#template.length
    const batch = Buffer.allocUnsafe(size * count)
    for (let k = 0; k < count; k++) {
      const at = k * size
      this.#template.copy(batch, at)
      if (this.qos) {
        batch.writeUInt16BE(this.#nextId, at + this.#idAt)
        this.#nextId = this.#nextId === 65535 ? 1 : this.#nextId + 1
      }
      writeFields(batch, at + this.#payloadAt, nowNs, this.index, this.sent++)
    }
    if (this.qos) this.unacked += count
    this.connection.write(batch)
  }
}
