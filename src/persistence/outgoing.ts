import type { Database, Statement, Transaction } from 'better-sqlite3'
import { queueTrim, type QueueLimit } from '../storage/quotas.js'
import { decodePacket, encodedSize, encodePacket } from './packet-codec.js'
import { NOTHING_STORED } from './memory-answers.js'
import type { QuotaSettings } from './quota-settings.js'
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

interface Usage {
  messages: number
  bytes: number
}

interface Trim {
  clientId: string
  limit: QueueLimit
  dropped: number
}

/**
 * The outgoing QoS 1/2 queue of each persistent session, in SQLite only: it
 * can be long, and is read in order when the client reconnects. A queued
 * packet is found again by its broker id and counter (before it has a
 * message id) or by its message id (after).
 *
 * Each queue's length and bytes are kept in memory too, exact as of the
 * last write (loaded at setup and after a failed commit): a queue past its
 * quota loses its oldest entries in the same transaction as the insert
 * that took it past, so it never stays past.
 */
export class OutgoingQueue {
  readonly #batch: WriteBatch
  readonly #quotas: QuotaSettings
  readonly #insert: Statement<[string, string | null, number | null, number | null, Payload, Buffer, number]>
  readonly #insertAll: Transaction<(clientIds: readonly string[], brokerId: string | null, brokerCounter: number | null, messageId: number | null, payload: Payload, packet: Buffer, bytes: number) => void>
  readonly #insertTrimmed: Transaction<(clientIds: readonly string[], brokerId: string | null, brokerCounter: number | null, messageId: number | null, payload: Payload, packet: Buffer, bytes: number) => Trim[] | undefined>
  readonly #setMessageId: Statement<[number | null, string, string | null, number | null]>
  readonly #byMessageId: Statement<{ clientId: string; messageId: number; brokerId: string | null }, { seq: number; bytes: number }>
  readonly #replace: Statement<[string | null, number | null, number | null, Payload, Buffer, number, number]>
  readonly #clearByMessageId: Statement<[string, number], Row & { bytes: number }>
  readonly #clearUnsent: Statement<[string, string, number], Row & { bytes: number }>
  readonly #oldest: Statement<[string], { bytes: number }>
  readonly #dropOldest: Statement<[string, number], { bytes: number }>
  readonly #usageOf: Statement<[], { client_id: string; n: number; bytes: number | null }>
  readonly #clientUsage: Statement<[string], { n: number; bytes: number | null }>
  readonly #deleteClient: Statement<[string]>
  readonly #last: Statement<[string], { seq: number | null }>
  readonly #page: Statement<[string, number, number, number], Row>
  /**
   * Entries per client, kept in memory so that a client with none costs no
   * query: every PUBACK of a clean session (which never has a queue) would
   * otherwise look for one. It may count too many (a write that failed
   * after it was counted), never too few.
   */
  readonly #queued = new Map<string, number>()
  /** Entries and bytes per client, exact as of the last write. */
  readonly #usage = new Map<string, Usage>()
  readonly #total: Usage = { messages: 0, bytes: 0 }

  constructor(db: Database, batch: WriteBatch, quotas: QuotaSettings) {
    this.#batch = batch
    this.#quotas = quotas
    this.#insert = db.prepare(`INSERT INTO mqtt_outgoing (client_id, broker_id, broker_counter, message_id, payload, packet, bytes)
      VALUES (?, ?, ?, ?, ?, ?, ?)`)
    this.#insertAll = db.transaction((clientIds, brokerId, brokerCounter, messageId, payload, packet, bytes) => {
      for (const clientId of clientIds) this.#insert.run(clientId, brokerId, brokerCounter, messageId, payload, packet, bytes)
    })
    // One write of the batch, so one transaction: a trim that fails takes its insert with it.
    this.#insertTrimmed = db.transaction((clientIds, brokerId, brokerCounter, messageId, payload, packet, bytes) => {
      for (const clientId of clientIds) {
        this.#insert.run(clientId, brokerId, brokerCounter, messageId, payload, packet, bytes)
        this.#used(clientId, 1, bytes)
      }
      let trims: Trim[] | undefined
      // A client with two matching subscriptions is listed twice: trimmed once.
      for (const clientId of clientIds.length === 1 ? clientIds : new Set(clientIds)) {
        const trim = this.#trim(clientId)
        if (trim) (trims ??= []).push(trim)
      }
      return trims
    })
    this.#setMessageId = db.prepare(`UPDATE mqtt_outgoing SET message_id = ? WHERE seq =
      (SELECT seq FROM mqtt_outgoing WHERE client_id = ? AND broker_id = ? AND broker_counter IS ? ORDER BY seq LIMIT 1)`)
    this.#byMessageId = db.prepare(`SELECT seq, bytes FROM mqtt_outgoing
      WHERE client_id = @clientId AND message_id = @messageId AND (@brokerId IS NULL OR broker_id IS NOT @brokerId)
      ORDER BY seq LIMIT 1`)
    this.#replace = db.prepare(`UPDATE mqtt_outgoing SET broker_id = ?, broker_counter = ?, message_id = ?, payload = ?, packet = ?, bytes = ?
      WHERE seq = ?`)
    const returning = 'RETURNING seq, message_id, payload, packet, bytes'
    this.#clearByMessageId = db.prepare(`DELETE FROM mqtt_outgoing WHERE seq =
      (SELECT seq FROM mqtt_outgoing WHERE client_id = ? AND message_id = ? ORDER BY seq LIMIT 1) ${returning}`)
    this.#clearUnsent = db.prepare(`DELETE FROM mqtt_outgoing WHERE seq =
      (SELECT seq FROM mqtt_outgoing WHERE client_id = ? AND broker_id = ? AND broker_counter = ? AND message_id IS NULL
       ORDER BY seq LIMIT 1) ${returning}`)
    this.#last = db.prepare('SELECT max(seq) AS seq FROM mqtt_outgoing WHERE client_id = ?')
    this.#page = db.prepare(`SELECT seq, message_id, payload, packet FROM mqtt_outgoing
      WHERE client_id = ? AND seq > ? AND seq <= ? ORDER BY seq LIMIT ?`)
    this.#oldest = db.prepare('SELECT bytes FROM mqtt_outgoing WHERE client_id = ? ORDER BY seq')
    this.#dropOldest = db.prepare(`DELETE FROM mqtt_outgoing WHERE seq IN
      (SELECT seq FROM mqtt_outgoing WHERE client_id = ? ORDER BY seq LIMIT ?) RETURNING bytes`)
    this.#usageOf = db.prepare('SELECT client_id, count(*) AS n, sum(bytes) AS bytes FROM mqtt_outgoing GROUP BY client_id')
    this.#clientUsage = db.prepare('SELECT count(*) AS n, sum(bytes) AS bytes FROM mqtt_outgoing WHERE client_id = ?')
    this.#deleteClient = db.prepare('DELETE FROM mqtt_outgoing WHERE client_id = ?')
  }

  /** Reads the size of every queue from the file (at setup, and after a failed commit). */
  load(): void {
    this.#queued.clear()
    this.#usage.clear()
    this.#total.messages = 0
    this.#total.bytes = 0
    for (const { client_id, n, bytes } of this.#usageOf.all()) {
      this.#queued.set(client_id, n)
      this.#usage.set(client_id, { messages: n, bytes: bytes ?? 0 })
      this.#total.messages += n
      this.#total.bytes += bytes ?? 0
    }
  }

  /** Every queue together. */
  get usage(): Readonly<Usage> {
    return this.#total
  }

  /** Counts entries added (or, negative, removed) from a client's queue; called in the writes, so exact once they commit. */
  #used(clientId: string, messages: number, bytes: number): void {
    this.#total.messages += messages
    this.#total.bytes += bytes
    const usage = this.#usage.get(clientId)
    if (!usage) {
      if (messages > 0) this.#usage.set(clientId, { messages, bytes })
    } else if (usage.messages + messages <= 0) {
      this.#usage.delete(clientId)
    } else {
      usage.messages += messages
      usage.bytes += bytes
    }
  }

  /**
   * Deletes the oldest entries of a client's queue until it fits its quota
   * (the newest stays, whatever its size); in the transaction of the write
   * that added to it.
   */
  #trim(clientId: string): Trim | undefined {
    const usage = this.#usage.get(clientId)
    if (!usage) return undefined
    const quota = this.#quotas.current.queue
    const oldest = this.#oldest
    const sizes = function* () {
      for (const row of oldest.iterate(clientId)) yield row.bytes
    }
    const trim = queueTrim(quota, usage.messages, usage.bytes, sizes)
    if (!trim) return undefined
    let bytes = 0
    for (const row of this.#dropOldest.all(clientId, trim.drop)) bytes += row.bytes
    this.#used(clientId, -trim.drop, -bytes)
    for (let i = 0; i < trim.drop; i++) this.#removed(clientId)
    return { clientId, limit: trim.limit, dropped: trim.drop }
  }

  #removed(clientId: string): void {
    const n = (this.#queued.get(clientId) ?? 1) - 1
    if (n > 0) this.#queued.set(clientId, n)
    else this.#queued.delete(clientId)
  }

  /** Deletes a client's whole queue at once: inside a write of the batch (an expiring session's). */
  deleteClient(clientId: string): void {
    const { n, bytes } = this.#clientUsage.get(clientId)!
    if (n === 0) return
    this.#deleteClient.run(clientId)
    this.#used(clientId, -n, -(bytes ?? 0))
    this.#queued.delete(clientId)
  }

  /**
   * Queues one packet for each subscription, in one transaction. A client
   * with two matching subscriptions gets two entries, as Aedes expects: it
   * delivers once and clears the other entry as a duplicate.
   */
  enqueue(clientIds: readonly string[], packet: StoredPacket): Promise<void> {
    if (clientIds.length === 0) return NOTHING_STORED
    const encoded = encodePacket(packet)
    const { payload, packet: blob } = encoded
    const size = encodedSize(encoded)
    const brokerId = packet.brokerId ?? null
    const brokerCounter = packet.brokerCounter ?? null
    const messageId = packet.messageId ?? null
    // Counted before the write, so that the count is never short of the rows.
    for (const clientId of clientIds) this.#queued.set(clientId, (this.#queued.get(clientId) ?? 0) + 1)
    const written = this.#batch.run((): Trim[] | undefined => {
      const { maxMessages, maxBytes } = this.#quotas.current.queue
      if (maxMessages > 0 || maxBytes > 0) return this.#insertTrimmed(clientIds, brokerId, brokerCounter, messageId, payload, blob, size)
      if (clientIds.length === 1) this.#insert.run(clientIds[0]!, brokerId, brokerCounter, messageId, payload, blob, size)
      else this.#insertAll(clientIds, brokerId, brokerCounter, messageId, payload, blob, size)
      for (const clientId of clientIds) this.#used(clientId, 1, size)
      return undefined
    })
    return written.then((trims) => {
      if (!trims) return
      for (const t of trims) this.#quotas.report.queueTrimmed(t.clientId, t.limit, t.dropped)
    })
  }

  /**
   * Records the message id a queued packet is being sent with, or replaces a
   * sent QoS 2 packet by its PUBREL. Throws when the packet is not queued,
   * as Aedes expects; but a PUBLISH whose entry is gone was dropped from a
   * full queue (limits.sessions) on its way to the client, and goes out all
   * the same, with nothing kept of it: Aedes takes a rejection for the
   * client's error and closes its connection, and a session at its limit
   * under a flood would then never get through its queue.
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
    const publish = brokerId !== null && (packet.cmd ?? 'publish') === 'publish'
    if (!this.#queued.has(clientId)) return publish ? NOTHING_STORED : Promise.reject(new Error('no such packet'))
    // Copied now, as Aedes goes on using the object; encoded only if needed.
    const replacement = { ...packet }
    return this.#batch.run(() => {
      if (brokerId !== null && this.#setMessageId.run(messageId, clientId, brokerId, brokerCounter).changes > 0) return
      const other = messageId === null ? undefined : this.#byMessageId.get({ clientId, messageId, brokerId })
      if (!other && publish) return
      if (!other) throw new Error('no such packet')
      const encoded = encodePacket(replacement)
      const size = encodedSize(encoded)
      this.#replace.run(brokerId, brokerCounter, messageId, encoded.payload, encoded.packet, size, other.seq)
      this.#used(clientId, 0, size - other.bytes)
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
    let remove: (() => (Row & { bytes: number }) | undefined) | undefined
    if (typeof messageId === 'number') remove = () => this.#clearByMessageId.get(clientId, messageId)
    else if (typeof brokerId === 'string' && typeof brokerCounter === 'number') remove = () => this.#clearUnsent.get(clientId, brokerId, brokerCounter)
    if (!remove) return NOTHING_STORED
    const take = remove
    return this.#batch.run(() => {
      const row = take()
      if (!row) return undefined
      this.#removed(clientId)
      this.#used(clientId, -1, -row.bytes)
      return toPacket(row)
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
