import type { Database, Statement } from 'better-sqlite3'
import { topicMatches } from '../topics/match.js'
import { decodePacket, encodePacket } from './packet-codec.js'
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

/**
 * Retained messages, one per topic, kept only in SQLite: they can be many and
 * large, and are read only when a client subscribes.
 */
export class RetainedStore {
  readonly #batch: WriteBatch
  readonly #upsert: Statement<[string, Buffer | Uint8Array | string | null, Buffer]>
  readonly #delete: Statement<[string]>
  readonly #get: Statement<[string], Row>
  readonly #rangeFirst: Statement<[string, string, number], Row>
  readonly #rangeNext: Statement<[string, string, number], Row>
  readonly #tailFirst: Statement<[string, number], Row>
  readonly #tailNext: Statement<[string, number], Row>

  constructor(db: Database, batch: WriteBatch) {
    this.#batch = batch
    this.#upsert = db.prepare(`INSERT INTO mqtt_retained (topic, payload, packet) VALUES (?, ?, ?)
      ON CONFLICT (topic) DO UPDATE SET payload = excluded.payload, packet = excluded.packet`)
    this.#delete = db.prepare('DELETE FROM mqtt_retained WHERE topic = ?')
    this.#get = db.prepare('SELECT topic, payload, packet FROM mqtt_retained WHERE topic = ?')
    const select = 'SELECT topic, payload, packet FROM mqtt_retained'
    this.#rangeFirst = db.prepare(`${select} WHERE topic >= ? AND topic < ? ORDER BY topic LIMIT ?`)
    this.#rangeNext = db.prepare(`${select} WHERE topic > ? AND topic < ? ORDER BY topic LIMIT ?`)
    this.#tailFirst = db.prepare(`${select} WHERE topic >= ? ORDER BY topic LIMIT ?`)
    this.#tailNext = db.prepare(`${select} WHERE topic > ? ORDER BY topic LIMIT ?`)
  }

  /** Stores a retained message; an empty payload removes the topic's one [MQTT-3.3.1-10]. */
  store(packet: PacketInput & { topic: string }): Promise<void> {
    const topic = packet.topic
    if (packet.payload == null || packet.payload.length === 0) {
      return this.#batch.run(() => {
        this.#delete.run(topic)
      })
    }
    // Encoded now: Aedes goes on using the packet object.
    const encoded = encodePacket(packet)
    return this.#batch.run(() => {
      this.#upsert.run(topic, encoded.payload, encoded.packet)
    })
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
