import type { Database, Statement } from 'better-sqlite3'
import { decodePacket, encodePacket } from './packet-codec.js'
import type { StoredPacket } from './types.js'
import type { WriteBatch } from '../store/write-batch.js'

interface Row {
  payload: Buffer | string | null
  packet: Buffer
}

/**
 * Incoming QoS 2 packets between PUBLISH and PUBREL, by client and message
 * id: what lets Aedes tell a retransmitted PUBLISH from a new one
 * [MQTT-4.3.3-2].
 */
export class IncomingStore {
  readonly #batch: WriteBatch
  readonly #put: Statement<[string, number, Buffer | Uint8Array | string | null, Buffer]>
  readonly #get: Statement<[string, number], Row>
  readonly #delete: Statement<[string, number]>
  readonly #deleteClient: Statement<[string]>
  readonly #clients: Statement<[], { client_id: string }>
  /**
   * The clients that may have packets here (a few more, never fewer): most
   * have none, and `clean`, which Aedes calls at every CONNECT and close of a
   * clean session, then costs no write.
   */
  readonly #holders = new Set<string>()

  constructor(db: Database, batch: WriteBatch) {
    this.#batch = batch
    this.#put = db.prepare(`INSERT INTO mqtt_incoming (client_id, message_id, payload, packet) VALUES (?, ?, ?, ?)
      ON CONFLICT (client_id, message_id) DO UPDATE SET payload = excluded.payload, packet = excluded.packet`)
    this.#get = db.prepare('SELECT payload, packet FROM mqtt_incoming WHERE client_id = ? AND message_id = ?')
    this.#delete = db.prepare('DELETE FROM mqtt_incoming WHERE client_id = ? AND message_id = ?')
    this.#deleteClient = db.prepare('DELETE FROM mqtt_incoming WHERE client_id = ?')
    this.#clients = db.prepare('SELECT DISTINCT client_id FROM mqtt_incoming')
  }

  /** Reads which clients have packets here (at setup, and after a failed commit). */
  load(): void {
    this.#holders.clear()
    for (const { client_id } of this.#clients.all()) this.#holders.add(client_id)
  }

  put(clientId: string, packet: StoredPacket & { messageId: number }): Promise<void> {
    const messageId = packet.messageId
    const { payload, packet: blob } = encodePacket(packet)
    this.#holders.add(clientId)
    return this.#batch.run(() => {
      this.#put.run(clientId, messageId, payload, blob)
    })
  }

  /** Throws when there is none, as Aedes expects. */
  get(clientId: string, messageId: number): StoredPacket {
    this.#batch.flush()
    const row = this.#get.get(clientId, messageId)
    if (!row) throw new Error('no such packet')
    return decodePacket(row.payload, row.packet)
  }

  /** Rejects when there is none, as Aedes' memory persistence does. */
  delete(clientId: string, messageId: number): Promise<void> {
    return this.#batch.run(() => {
      if (this.#delete.run(clientId, messageId).changes === 0) throw new Error('no such packet')
    })
  }

  /** Deletes a client's QoS 2 state at once: inside a write of the batch (an expiring session's). */
  deleteClient(clientId: string): void {
    if (this.#holders.delete(clientId)) this.#deleteClient.run(clientId)
  }

  /** Forgets a client's QoS 2 state when its session ends [MQTT-3.1.2-6]. */
  clean(clientId: string): Promise<void> {
    if (!this.#holders.delete(clientId)) return Promise.resolve()
    return this.#batch.run(() => {
      this.#deleteClient.run(clientId)
    })
  }
}
