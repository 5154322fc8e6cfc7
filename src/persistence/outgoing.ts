import type { Database, Statement, Transaction } from 'better-sqlite3'
import { decodePacket, encodePacket } from './packet-codec.js'
import { NOTHING_STORED } from './memory-answers.js'
import type { PacketInput, StoredPacket } from './types.js'
import type { WriteBatch } from '../store/write-batch.js'

interface Row {
  seq: number
  message_id: number | null
  payload: Buffer | string | null
  packet: Buffer
}

type Payload = Buffer | Uint8Array | string | null

/** Rows read per query while streaming a queue. */
const PAGE = 100

/**
 * The outgoing QoS 1/2 queue of each persistent session, in SQLite only: it
 * can be long, and is read in order when the client reconnects. A queued
 * packet is found again by its broker id and counter (before it has a
 * message id) or by its message id (after).
 */
export class OutgoingQueue {
  readonly #batch: WriteBatch
  readonly #insert: Statement<[string, string | null, number | null, number | null, Payload, Buffer]>
  readonly #insertAll: Transaction<(clientIds: readonly string[], brokerId: string | null, brokerCounter: number | null, messageId: number | null, payload: Payload, packet: Buffer) => void>
  readonly #setMessageId: Statement<[number | null, string, string | null, number | null]>
  readonly #byMessageId: Statement<{ clientId: string; messageId: number; brokerId: string | null }, { seq: number }>
  readonly #replace: Statement<[string | null, number | null, number | null, Payload, Buffer, number]>
  readonly #clearByMessageId: Statement<[string, number], Row>
  readonly #clearUnsent: Statement<[string, string, number], Row>
  readonly #last: Statement<[string], { seq: number | null }>
  readonly #page: Statement<[string, number, number, number], Row>
  readonly #sizes: Statement<[], { client_id: string; n: number }>
  /**
   * Entries per client, kept in memory so that a client with none costs no
   * query: every PUBACK of a clean session (which never has a queue) would
   * otherwise look for one. It may count too many (a write that failed
   * after it was counted), never too few.
   */
  readonly #queued = new Map<string, number>()

  constructor(db: Database, batch: WriteBatch) {
    this.#batch = batch
    this.#insert = db.prepare(`INSERT INTO mqtt_outgoing (client_id, broker_id, broker_counter, message_id, payload, packet)
      VALUES (?, ?, ?, ?, ?, ?)`)
    this.#insertAll = db.transaction((clientIds, brokerId, brokerCounter, messageId, payload, packet) => {
      for (const clientId of clientIds) this.#insert.run(clientId, brokerId, brokerCounter, messageId, payload, packet)
    })
    this.#setMessageId = db.prepare(`UPDATE mqtt_outgoing SET message_id = ? WHERE seq =
      (SELECT seq FROM mqtt_outgoing WHERE client_id = ? AND broker_id = ? AND broker_counter IS ? ORDER BY seq LIMIT 1)`)
    this.#byMessageId = db.prepare(`SELECT seq FROM mqtt_outgoing
      WHERE client_id = @clientId AND message_id = @messageId AND (@brokerId IS NULL OR broker_id IS NOT @brokerId)
      ORDER BY seq LIMIT 1`)
    this.#replace = db.prepare(`UPDATE mqtt_outgoing SET broker_id = ?, broker_counter = ?, message_id = ?, payload = ?, packet = ?
      WHERE seq = ?`)
    const returning = 'RETURNING seq, message_id, payload, packet'
    this.#clearByMessageId = db.prepare(`DELETE FROM mqtt_outgoing WHERE seq =
      (SELECT seq FROM mqtt_outgoing WHERE client_id = ? AND message_id = ? ORDER BY seq LIMIT 1) ${returning}`)
    this.#clearUnsent = db.prepare(`DELETE FROM mqtt_outgoing WHERE seq =
      (SELECT seq FROM mqtt_outgoing WHERE client_id = ? AND broker_id = ? AND broker_counter = ? AND message_id IS NULL
       ORDER BY seq LIMIT 1) ${returning}`)
    this.#last = db.prepare('SELECT max(seq) AS seq FROM mqtt_outgoing WHERE client_id = ?')
    this.#page = db.prepare(`SELECT seq, message_id, payload, packet FROM mqtt_outgoing
      WHERE client_id = ? AND seq > ? AND seq <= ? ORDER BY seq LIMIT ?`)
    this.#sizes = db.prepare('SELECT client_id, count(*) AS n FROM mqtt_outgoing GROUP BY client_id')
  }

  /** Reads the size of every queue from the file (at setup, and after a failed commit). */
  load(): void {
    this.#queued.clear()
    for (const { client_id, n } of this.#sizes.all()) this.#queued.set(client_id, n)
  }

  #removed(clientId: string): void {
    const n = (this.#queued.get(clientId) ?? 1) - 1
    if (n > 0) this.#queued.set(clientId, n)
    else this.#queued.delete(clientId)
  }

  /**
   * Queues one packet for each subscription, in one transaction. A client
   * with two matching subscriptions gets two entries, as Aedes expects: it
   * delivers once and clears the other entry as a duplicate.
   */
  enqueue(clientIds: readonly string[], packet: StoredPacket): Promise<void> {
    if (clientIds.length === 0) return NOTHING_STORED
    const { payload, packet: blob } = encodePacket(packet)
    const brokerId = packet.brokerId ?? null
    const brokerCounter = packet.brokerCounter ?? null
    const messageId = packet.messageId ?? null
    // Counted before the write, so that the count is never short of the rows.
    for (const clientId of clientIds) this.#queued.set(clientId, (this.#queued.get(clientId) ?? 0) + 1)
    return this.#batch.run(() => {
      if (clientIds.length === 1) this.#insert.run(clientIds[0]!, brokerId, brokerCounter, messageId, payload, blob)
      else this.#insertAll(clientIds, brokerId, brokerCounter, messageId, payload, blob)
    })
  }

  /**
   * Records the message id a queued packet is being sent with, or replaces a
   * sent QoS 2 packet by its PUBREL. Throws when the packet is not queued,
   * as Aedes expects.
   *
   * A packet is found by its broker id and counter anywhere in the queue
   * before an entry of another broker with the same message id is replaced:
   * after a restart the queue holds entries of the previous broker whose
   * message ids the new one may reuse. A PUBREL, which has no broker id,
   * replaces the entry with its message id. (Aedes' memory persistence
   * matches it to the first entry without a broker id, an earlier PUBREL
   * when two QoS 2 messages are in flight: the second PUBLISH then stays
   * queued and is sent again at the next reconnect.)
   */
  update(clientId: string, packet: PacketInput): Promise<void> {
    const brokerId = packet.brokerId ?? null
    const brokerCounter = packet.brokerCounter ?? null
    const messageId = packet.messageId ?? null
    // Copied now, as Aedes goes on using the object; encoded only if needed.
    if (!this.#queued.has(clientId)) return Promise.reject(new Error('no such packet'))
    const replacement = { ...packet }
    return this.#batch.run(() => {
      if (brokerId !== null && this.#setMessageId.run(messageId, clientId, brokerId, brokerCounter).changes > 0) return
      const other = messageId === null ? undefined : this.#byMessageId.get({ clientId, messageId, brokerId })
      if (!other) throw new Error('no such packet')
      const { payload, packet: blob } = encodePacket(replacement)
      this.#replace.run(brokerId, brokerCounter, messageId, payload, blob, other.seq)
    })
  }

  /**
   * Removes and returns the queued packet acknowledged with this message id.
   * Without a message id, Aedes is dropping a delivery it did not send (a
   * duplicate, or one `authorizeForward` refused): that packet's entry is
   * removed if it has not been given a message id yet.
   */
  clear(clientId: string, packet: PacketInput | undefined): Promise<StoredPacket | undefined> {
    if (!this.#queued.has(clientId)) return NOTHING_STORED
    const messageId = packet?.messageId
    const brokerId = packet?.brokerId
    const brokerCounter = packet?.brokerCounter
    let remove: (() => Row | undefined) | undefined
    if (typeof messageId === 'number') remove = () => this.#clearByMessageId.get(clientId, messageId)
    else if (typeof brokerId === 'string' && typeof brokerCounter === 'number') remove = () => this.#clearUnsent.get(clientId, brokerId, brokerCounter)
    if (!remove) return NOTHING_STORED
    const take = remove
    return this.#batch.run(() => {
      const row = take()
      if (row) this.#removed(clientId)
      return row && toPacket(row)
    })
  }

  /**
   * The client's queue, oldest first, as it stands now: packets queued while
   * the stream is read are left out, as they are also being delivered live.
   * Read page by page, so other store calls run in between.
   */
  stream(clientId: string): Iterable<StoredPacket> {
    this.#batch.flush()
    const upTo = this.#last.get(clientId)?.seq ?? 0
    const page = this.#page
    const batch = this.#batch
    return (function* () {
      let after = 0
      while (after < upTo) {
        batch.flush()
        const rows = page.all(clientId, after, upTo, PAGE)
        for (const row of rows) yield toPacket(row)
        const last = rows.at(-1)
        if (rows.length < PAGE || !last) return
        after = last.seq
      }
    })()
  }
}

function toPacket(row: Row): StoredPacket {
  const packet = decodePacket(row.payload, row.packet)
  if (row.message_id !== null) packet.messageId = row.message_id
  return packet
}
