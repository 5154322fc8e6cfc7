import type { Redis } from 'ioredis'
import { NOTHING_STORED } from '../persistence/memory-answers.js'
import type { QuotaSettings } from '../persistence/quota-settings.js'
import type { PacketInput, StoredPacket } from '../storage/session-types.js'
import { packPacket, unpackPacket } from './sessions-codec.js'
import type { SessionKeys } from './sessions-keys.js'
import { clear, enqueue, page, update } from './sessions-outgoing-scripts.js'
import type { ScriptCall } from './sessions-script.js'

/** Entries read per round trip while streaming a queue. */
const PAGE = 100

/**
 * Subscriptions queued for by one script run. A bigger fan-out is split
 * into runs of this many, sent together in one pipeline (one round trip):
 * each run is atomic, and Redis serves other clients between runs instead
 * of stalling for the whole fan-out (about 5 µs of Redis time per entry,
 * so some 5 ms per run).
 */
const RUN = 1000

/** How an entry is found by its message: '' for a packet without a broker id. */
function brokerField(packet: PacketInput | undefined): string {
  if (typeof packet?.brokerId !== 'string') return ''
  return `b:${packet.brokerId}:${typeof packet.brokerCounter === 'number' ? packet.brokerCounter : ''}`
}

function messageIdArg(packet: PacketInput | undefined): string {
  return typeof packet?.messageId === 'number' ? String(packet.messageId) : ''
}

/** The outgoing QoS 1/2 queues of persistent sessions, in Redis only (the keys and scripts: sessions-outgoing-scripts.ts). */
export class RedisOutgoingQueues {
  readonly #redis: Redis
  readonly #keys: SessionKeys
  readonly #quotas: QuotaSettings

  constructor(redis: Redis, keys: SessionKeys, quotas: QuotaSettings) {
    this.#redis = redis
    this.#keys = keys
    this.#quotas = quotas
  }

  /**
   * Queues one entry per subscription (a client with two matching
   * subscriptions gets two, as Aedes expects): one round trip whatever their
   * number, one atomic script per 1000. With several, the packet is stored
   * once (per 1000) and shared. The queues past their quota are trimmed in
   * the same scripts, and reported once Redis has answered.
   */
  async enqueue(clientIds: readonly string[], packet: StoredPacket): Promise<void> {
    if (clientIds.length === 0) return
    const k = this.#keys
    const { queue } = this.#quotas.current
    const args = [packPacket(packet), brokerField(packet), queue.maxMessages, queue.maxBytes]
    const runs: ScriptCall[] = []
    const ids: string[][] = []
    for (let at = 0; at < clientIds.length; at += RUN) {
      const keys = [k.seq, k.outPackets, k.usage]
      const run = clientIds.slice(at, at + RUN)
      for (const clientId of run) keys.push(k.outQueue(clientId), k.outMeta(clientId))
      runs.push({ keys, args })
      ids.push(run)
    }
    const replies = (runs.length === 1 ? [await enqueue.run(this.#redis, runs[0]!.keys, args)] : await enqueue.runAll(this.#redis, runs)) as number[][]
    replies.forEach((trimmed, r) => {
      for (let i = 0; i + 2 < trimmed.length; i += 3) {
        this.#quotas.report.queueTrimmed(ids[r]![trimmed[i]! - 1]!, trimmed[i + 2] === 2 ? 'session_bytes' : 'session_messages', trimmed[i + 1]!)
      }
    })
  }

  /** Every queue together: entries and bytes. */
  async usage(): Promise<{ messages: number; bytes: number }> {
    const [messages, bytes] = await this.#redis.hmget(this.#keys.usage, 'queued', 'queued-bytes')
    return { messages: Number(messages ?? 0), bytes: Number(bytes ?? 0) }
  }

  /**
   * Records the message id a queued packet is sent with, or replaces a sent
   * QoS 2 packet by its PUBREL; a PUBLISH that is not queued is queued
   * first (see below), anything else not queued is refused, as Aedes expects. A packet is found by its broker id and counter first;
   * failing that, the entry of another broker with the same message id is
   * replaced (see OutgoingQueue.update in the SQLite store, which this
   * follows). A PUBREL, small, is sent with the first call; a PUBLISH is
   * sent again only in the rare case that it replaces another entry.
   */
  async update(clientId: string, packet: PacketInput): Promise<void> {
    const bc = brokerField(packet)
    const mid = messageIdArg(packet)
    const broker = typeof packet.brokerId === 'string' ? packet.brokerId : ''
    const keys = this.#queueKeys(clientId)
    // Copied now, as Aedes goes on using the object.
    const replacement = { ...packet }
    let done = await update.run(this.#redis, keys, bc === '' ? [bc, mid, broker, '1', packPacket(replacement)] : [bc, mid, broker, '0'])
    if (done === 2) done = await update.run(this.#redis, keys, [bc, mid, broker, '1', packPacket(replacement)])
    if (done === 0 && bc !== '' && (packet.cmd ?? 'publish') === 'publish') {
      // A live delivery with no entry: the node that took the message in did
      // not queue it for this client, as its copy of the persistent
      // subscriptions had not yet heard of this one (the broadcast was on its
      // way, or lost in a Redis outage). Aedes would drop the delivery; it is
      // in flight all the same, so it is queued now, for its PUBACK or a
      // reconnect to find. (Should the other node's entry land later, the
      // client may get the message twice: at least once.)
      await this.enqueue([clientId], replacement as StoredPacket)
      done = await update.run(this.#redis, keys, [bc, mid, broker, '0'])
    }
    if (done !== 1) throw new Error('no such packet')
  }

  /**
   * Removes and returns the entry acknowledged with this message id; or,
   * given a packet without one (a delivery Aedes did not send), that
   * packet's entry if it has no message id yet.
   */
  clear(clientId: string, packet: PacketInput | undefined): Promise<StoredPacket | undefined> {
    const mid = messageIdArg(packet)
    const bc = mid === '' ? brokerField(packet) : ''
    if (mid === '' && bc === '') return NOTHING_STORED
    return this.#clear(clientId, mid, bc)
  }

  async #clear(clientId: string, mid: string, bc: string): Promise<StoredPacket | undefined> {
    const reply = await clear.run(this.#redis, this.#queueKeys(clientId), [mid, bc]) as [Buffer, Buffer] | null
    if (!reply || reply[0].length === 0) return undefined
    return toPacket(reply[0], reply[1])
  }

  /**
   * The client's queue, oldest first, as it stands at the first read: what
   * is queued while it is read is left out, as it is also being delivered
   * live. Read a page at a time as the stream is consumed.
   */
  async *stream(clientId: string): AsyncGenerator<StoredPacket> {
    const keys = this.#queueKeys(clientId)
    let after = '0'
    let upTo = ''
    for (;;) {
      const reply = await page.run(this.#redis, keys, [after, upTo, PAGE]) as Buffer[]
      if (reply.length < 2) return
      upTo = reply[0]!.toString()
      const last = reply[1]!.toString()
      for (let i = 2; i + 2 < reply.length; i += 3) {
        yield toPacket(reply[i + 2]!, reply[i + 1]!)
      }
      if (last === after || last === upTo) return
      after = last
    }
  }

  #queueKeys(clientId: string): string[] {
    const k = this.#keys
    return [k.outQueue(clientId), k.outMeta(clientId), k.outPackets, k.usage]
  }
}

function toPacket(data: Buffer, messageId: Buffer): StoredPacket {
  const packet = unpackPacket(data)
  if (messageId.length > 0) packet.messageId = Number(messageId.toString())
  return packet
}
