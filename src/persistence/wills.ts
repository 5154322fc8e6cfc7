import type { Database, Statement } from 'better-sqlite3'
import { decodePacket, encodePacket } from './packet-codec.js'
import type { StoredWill } from './types.js'
import type { WriteBatch } from '../store/write-batch.js'

interface Row {
  id: number
  client_id: string
  broker_id: string
  payload: Buffer | string | null
  packet: Buffer
}

/** Rows read per query while streaming. */
const PAGE = 100

/**
 * The will of each connected client, with the broker it is connected to, so
 * that a will survives the broker's death: whoever starts next finds it and
 * publishes it [MQTT-3.1.2-8].
 */
export class WillStore {
  readonly #batch: WriteBatch
  readonly #put: Statement<[string, string, Buffer | Uint8Array | string | null, Buffer]>
  readonly #get: Statement<[string], Row>
  readonly #delete: Statement<[string], Row>
  readonly #deleteOfBroker: Statement<[string, string], Row>
  readonly #page: Statement<[number, number], Row>
  readonly #clients: Statement<[], { client_id: string }>
  /**
   * The clients that may have a will here (a few more, never fewer): Aedes
   * deletes the will at every CONNECT, and most clients have none, which
   * then costs no write.
   */
  readonly #holders = new Set<string>()

  constructor(db: Database, batch: WriteBatch) {
    this.#batch = batch
    this.#put = db.prepare(`INSERT INTO mqtt_wills (client_id, broker_id, payload, packet) VALUES (?, ?, ?, ?)
      ON CONFLICT (client_id) DO UPDATE SET broker_id = excluded.broker_id, payload = excluded.payload, packet = excluded.packet`)
    const columns = 'rowid AS id, client_id, broker_id, payload, packet'
    this.#get = db.prepare(`SELECT ${columns} FROM mqtt_wills WHERE client_id = ?`)
    const returning = `RETURNING ${columns}`
    this.#delete = db.prepare(`DELETE FROM mqtt_wills WHERE client_id = ? ${returning}`)
    this.#deleteOfBroker = db.prepare(`DELETE FROM mqtt_wills WHERE client_id = ? AND broker_id = ? ${returning}`)
    this.#page = db.prepare(`SELECT ${columns} FROM mqtt_wills WHERE rowid > ? ORDER BY rowid LIMIT ?`)
    this.#clients = db.prepare('SELECT client_id FROM mqtt_wills')
  }

  /** Reads which clients have a will here (at setup, and after a failed commit). */
  load(): void {
    this.#holders.clear()
    for (const { client_id } of this.#clients.all()) this.#holders.add(client_id)
  }

  put(will: StoredWill): Promise<void> {
    const { clientId, brokerId } = will
    const { payload, packet } = encodePacket(will)
    this.#holders.add(clientId)
    return this.#batch.run(() => {
      this.#put.run(clientId, brokerId, payload, packet)
    })
  }

  get(clientId: string): StoredWill | undefined {
    this.#batch.flush()
    const row = this.#get.get(clientId)
    return row && toWill(row)
  }

  /**
   * Removes and returns a client's will. Given a broker id, only the will
   * stored by that broker goes: Aedes sweeps the wills of dead brokers while
   * the same clients may already have reconnected here with new ones.
   */
  delete(clientId: string, brokerId: string | undefined): Promise<StoredWill | undefined> {
    if (!this.#holders.has(clientId)) return Promise.resolve(undefined)
    return this.#batch.run(() => {
      const row = brokerId === undefined ? this.#delete.get(clientId) : this.#deleteOfBroker.get(clientId, brokerId)
      // One will per client: once it is gone, none is left.
      if (row) this.#holders.delete(clientId)
      return row && toWill(row)
    })
  }

  /** Deletes a client's will at once, whichever broker stored it: inside a write of the batch (an expiring session's). */
  deleteClient(clientId: string): void {
    if (this.#holders.delete(clientId)) this.#delete.run(clientId)
  }

  /** The wills stored by brokers other than those given (those alive), oldest first, read page by page. */
  *ofOtherBrokers(alive: Readonly<Record<string, unknown>>): Generator<StoredWill> {
    let after = 0
    for (;;) {
      this.#batch.flush()
      const rows = this.#page.all(after, PAGE)
      for (const row of rows) {
        if (!Object.hasOwn(alive, row.broker_id) || !alive[row.broker_id]) yield toWill(row)
      }
      const last = rows.at(-1)
      if (rows.length < PAGE || !last) return
      after = last.id
    }
  }
}

function toWill(row: Row): StoredWill {
  return decodePacket(row.payload, row.packet) as StoredWill
}
