import type { Database, Statement } from 'better-sqlite3'
import { topicMatches } from '../topics/match.js'
import { retainedBreach, type RetainedLimit } from '../storage/quotas.js'
import { decodePacket, encodedSize, encodePacket } from './packet-codec.js'
import type { QuotaSettings } from './quota-settings.js'
import { hasWildcard, topicRange, type TopicRange } from './retained-ranges.js'
import type { PacketInput, StoredPacket } from './types.js'
import type { WriteBatch } from '../store/write-batch.js'

interface Row {
  topic: string
  payload: Buffer | string | null
  packet: Buffer
}

/** Rows read per query while streaming: big enough to be cheap, small enough not to hold the event loop. */
const PAGE = 100

interface Usage {
  messages: number
  bytes: number
}

/**
 * Retained messages, one per topic, kept only in SQLite: they can be many and
 * large, and are read only when a client subscribes.
 *
 * Each row also holds the client that set it and its size, for the quotas;
 * the totals, all together and per client, are kept in memory (loaded at
 * setup and after a failed commit) and checked in the write itself, inside
 * the batch's transaction, so that they see every write before it.
 */
export class RetainedStore {
  readonly #batch: WriteBatch
  readonly #quotas: QuotaSettings
  readonly #upsert: Statement<[string, Buffer | Uint8Array | string | null, Buffer, string | null, number]>
  readonly #delete: Statement<[string], { client_id: string | null; bytes: number }>
  readonly #owner: Statement<[string], { client_id: string | null; bytes: number }>
  readonly #totals: Statement<[], { client_id: string | null; n: number; bytes: number | null }>
  readonly #get: Statement<[string], Row>
  readonly #rangeFirst: Statement<[string, string, number], Row>
  readonly #rangeNext: Statement<[string, string, number], Row>
  readonly #tailFirst: Statement<[string, number], Row>
  readonly #tailNext: Statement<[string, number], Row>

  readonly #total: Usage = { messages: 0, bytes: 0 }
  readonly #byClient = new Map<string, Usage>()

  constructor(db: Database, batch: WriteBatch, quotas: QuotaSettings) {
    this.#batch = batch
    this.#quotas = quotas
    this.#upsert = db.prepare(`INSERT INTO mqtt_retained (topic, payload, packet, client_id, bytes) VALUES (?, ?, ?, ?, ?)
      ON CONFLICT (topic) DO UPDATE SET payload = excluded.payload, packet = excluded.packet, client_id = excluded.client_id, bytes = excluded.bytes`)
    this.#delete = db.prepare('DELETE FROM mqtt_retained WHERE topic = ? RETURNING client_id, bytes')
    this.#owner = db.prepare('SELECT client_id, bytes FROM mqtt_retained WHERE topic = ?')
    this.#totals = db.prepare('SELECT client_id, count(*) AS n, sum(bytes) AS bytes FROM mqtt_retained GROUP BY client_id')
    this.#get = db.prepare('SELECT topic, payload, packet FROM mqtt_retained WHERE topic = ?')
    const select = 'SELECT topic, payload, packet FROM mqtt_retained'
    this.#rangeFirst = db.prepare(`${select} WHERE topic >= ? AND topic < ? ORDER BY topic LIMIT ?`)
    this.#rangeNext = db.prepare(`${select} WHERE topic > ? AND topic < ? ORDER BY topic LIMIT ?`)
    this.#tailFirst = db.prepare(`${select} WHERE topic >= ? ORDER BY topic LIMIT ?`)
    this.#tailNext = db.prepare(`${select} WHERE topic > ? ORDER BY topic LIMIT ?`)
  }

  /** Reads the totals from the file (at setup, and after a failed commit). */
  load(): void {
    this.#total.messages = 0
    this.#total.bytes = 0
    this.#byClient.clear()
    for (const { client_id, n, bytes } of this.#totals.all()) {
      this.#total.messages += n
      this.#total.bytes += bytes ?? 0
      if (client_id !== null) this.#byClient.set(client_id, { messages: n, bytes: bytes ?? 0 })
    }
  }

  /** All retained messages together. */
  get usage(): Readonly<Usage> {
    return this.#total
  }

  /**
   * Stores a retained message; an empty payload removes the topic's one
   * [MQTT-3.3.1-10], whatever the quotas. One that a quota refuses is not
   * kept (the topic keeps what it had): the promise resolves all the same,
   * as the publish itself goes on, and the refusal is reported.
   */
  store(packet: PacketInput & { topic: string }): Promise<void> {
    const topic = packet.topic
    if (packet.payload == null || packet.payload.length === 0) {
      return this.#batch.run(() => {
        const old = this.#delete.get(topic)
        if (old) this.#count(old.client_id ?? undefined, -1, -old.bytes)
      })
    }
    const clientId = typeof packet.clientId === 'string' ? packet.clientId : undefined
    // Encoded now: Aedes goes on using the packet object.
    const encoded = encodePacket(packet)
    const size = encodedSize(encoded)
    const refused = this.#batch.run((): RetainedLimit | undefined => {
      const row = this.#owner.get(topic)
      const old = row && { clientId: row.client_id ?? undefined, bytes: row.bytes }
      const breach = retainedBreach(this.#quotas.current.retained, this.#total, clientId === undefined ? undefined : this.#byClient.get(clientId), size, clientId, old)
      if (breach) return breach
      this.#upsert.run(topic, encoded.payload, encoded.packet, clientId ?? null, size)
      if (old) this.#count(old.clientId, -1, -old.bytes)
      this.#count(clientId, 1, size)
      return undefined
    })
    return refused.then((limit) => {
      if (limit) this.#quotas.report.retainedRefused(limit, topic, clientId)
    })
  }

  #count(clientId: string | undefined, messages: number, bytes: number): void {
    this.#total.messages += messages
    this.#total.bytes += bytes
    if (clientId === undefined) return
    const usage = this.#byClient.get(clientId)
    if (!usage) {
      this.#byClient.set(clientId, { messages, bytes })
    } else if (usage.messages + messages <= 0) {
      this.#byClient.delete(clientId)
    } else {
      usage.messages += messages
      usage.bytes += bytes
    }
  }

  /**
   * The retained messages matching any of the filters, each once even when
   * several filters match it. Read page by page as the stream is consumed, so
   * other store calls run in between; each read sees the writes asked for
   * before it.
   */
  *match(filters: readonly string[]): Generator<StoredPacket> {
    const sent = new Set<string>()
    const wildcards = filters.filter(hasWildcard)
    for (const filter of filters) {
      if (hasWildcard(filter) || sent.has(filter)) continue
      this.#batch.flush()
      const row = this.#get.get(filter)
      if (row) {
        sent.add(row.topic)
        yield decodePacket(row.payload, row.packet)
      }
    }
    if (wildcards.length === 0) return
    const ranges = wildcards.map(topicRange)
    const whole = ranges.find((r) => r.to === null)
    for (const range of whole ? [whole] : ranges) {
      for (const row of this.#scan(range)) {
        if (sent.has(row.topic) || !wildcards.some((filter) => topicMatches(filter, row.topic))) continue
        sent.add(row.topic)
        yield decodePacket(row.payload, row.packet)
      }
    }
  }

  *#scan(range: TopicRange): Generator<Row> {
    this.#batch.flush()
    let rows = range.to === null ? this.#tailFirst.all(range.from, PAGE) : this.#rangeFirst.all(range.from, range.to, PAGE)
    for (;;) {
      yield* rows
      const last = rows.at(-1)
      if (rows.length < PAGE || !last) return
      this.#batch.flush()
      rows = range.to === null ? this.#tailNext.all(last.topic, PAGE) : this.#rangeNext.all(last.topic, range.to, PAGE)
    }
  }
}
