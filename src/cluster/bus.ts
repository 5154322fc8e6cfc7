import type { Redis } from 'ioredis'
import mqemitter, { type MQEmitter, type Message } from 'mqemitter'
import type { Logger } from 'pino'
import { Counter, type Registry } from 'prom-client'
import { decodePacket, encodePacket } from '../persistence/packet-codec.js'

type Listener = (message: Message, done: () => void) => void

export interface BusOptions {
  /** Appends to the stream. Shared with other non-blocking work. */
  redis: Redis
  /** Reads the stream with blocking XREADs: a connection of its own. */
  reader: Redis
  /** The stream's key. */
  key: string
  /** This broker's id (Aedes' `id`, new at each start): entries it wrote are not read back. */
  origin: string
  /** Entries the stream keeps (approximately): how far a node cut off from Redis can catch up. */
  maxLength: number
  /** Messages Aedes' router hands to subscribers at once, as Aedes' own emitter takes. */
  concurrency: number
  log: Logger
  registry: Registry
}

// Entries taken per XREAD, and how long one waits for new ones before it is
// sent again (a connection that went quiet is noticed).
const READ_COUNT = 500
const READ_BLOCK_MS = 5000

/**
 * The message bus between nodes, in the place of Aedes' emitter (`mq`).
 *
 * Every message a node publishes goes to its own subscribers at once, through
 * a local MQEmitter as on one node, and onto one Redis stream, which every
 * other node reads and hands to its own subscribers. Why a stream rather than
 * Redis pub/sub (which mqemitter-redis uses):
 *
 * - A node cut off from Redis for a moment (a network blip, a Redis restart)
 *   reads on from the last entry it saw: pub/sub drops whatever is sent while
 *   a subscriber is away, and with it QoS 1 messages already acknowledged to
 *   their publisher.
 * - One XADD per message, whatever the subscriptions. mqemitter-redis makes a
 *   PSUBSCRIBE per topic filter, and Redis matches every PUBLISH against
 *   every pattern.
 * - Local subscribers do not wait for Redis: mqemitter-redis delivers even a
 *   node's own messages back through Redis.
 *
 * What it costs: every node reads every message, whether or not a client of
 * it subscribed (no routing by interest), and the stream holds the last
 * `maxLength` messages in Redis' memory.
 *
 * A QoS 1/2 or retained message completes (and its publisher gets its PUBACK)
 * once Redis has the entry; a QoS 0 one once local subscribers have it, its
 * entry following in order on the same connection.
 */
export class StreamBus {
  readonly #local: MQEmitter
  readonly #options: BusOptions
  readonly #origin: Buffer
  readonly #sent: Counter
  readonly #received: Counter
  readonly #failed: Counter
  #last = '$'
  #closed = false

  constructor(options: BusOptions) {
    this.#options = options
    this.#origin = Buffer.from(options.origin)
    // Aedes' own settings for its emitter; empty levels match [MQTT-4.7.1-3].
    this.#local = mqemitter({ concurrency: options.concurrency, matchEmptyLevels: true })
    const registers = [options.registry]
    this.#sent = new Counter({ name: 'switchyard_cluster_messages_sent_total', help: 'Messages this node put on the cluster stream', registers })
    this.#received = new Counter({ name: 'switchyard_cluster_messages_received_total', help: 'Messages this node read from the cluster stream, published on other nodes', registers })
    this.#failed = new Counter({ name: 'switchyard_cluster_stream_errors_total', help: 'Failed writes to and reads of the cluster stream', labelNames: ['op'], registers })
    // At 0 from the start, so that an alert on one has a series before the first failure.
    for (const op of ['write', 'read', 'decode']) this.#failed.inc({ op }, 0)
  }

  /** Starts reading after the newest entry now in the stream. */
  async start(): Promise<void> {
    const newest = await this.#options.redis.xrevrange(this.#options.key, '+', '-', 'COUNT', 1)
    this.#last = newest[0]?.[0] ?? '0-0'
    void this.#readLoop()
  }

  // MQEmitter, as Aedes uses it.

  get current(): number {
    return this.#local.current
  }

  on(topic: string, listener: Listener, done?: () => void): this {
    this.#local.on(topic, listener, done)
    return this
  }

  removeListener(topic: string, listener: Listener, done?: () => void): void {
    this.#local.removeListener(topic, listener, done)
  }

  /** Called with each message this node publishes, before it leaves: what it sets on the message travels with it. */
  beforeEmit: ((message: Message) => void) | undefined

  emit(message: Message, done?: (err?: Error) => void): void {
    if (this.#closed) return done?.(new Error('the cluster bus is closed'))
    this.beforeEmit?.(message)
    const { redis, key, maxLength } = this.#options
    const { payload, packet } = encodePacket(message)
    const body = payload === null ? Buffer.alloc(0) : typeof payload === 'string' ? Buffer.from(payload) : Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength)
    const appended = redis.xadd(key, 'MAXLEN', '~', maxLength, '*', 'o', this.#origin, 'm', packet, 'p', body)
    this.#sent.inc()
    const durable = (message.qos as number) > 0 || message.retain === true
    if (!durable) {
      appended.catch((err: unknown) => this.#writeFailed(err))
      this.#local.emit(message, done)
      return
    }
    let waiting = 2
    let failure: Error | undefined
    const settle = (err?: Error) => {
      failure ??= err
      if (--waiting === 0) done?.(failure)
    }
    appended.then(() => settle(), (err: unknown) => settle(this.#writeFailed(err)))
    this.#local.emit(message, settle)
  }

  /** Stops reading (a blocking read in progress ends with the reader's connection, which its owner closes). */
  close(done: () => void): void {
    this.#closed = true
    this.#local.close(done)
  }

  async #readLoop(): Promise<void> {
    const { reader, key, log } = this.#options
    while (!this.#closed) {
      let batch: Array<[Buffer, Buffer[]]> | undefined
      try {
        const result = await reader.xreadBuffer('COUNT', READ_COUNT, 'BLOCK', READ_BLOCK_MS, 'STREAMS', key, this.#last)
        batch = result?.[0]?.[1] as Array<[Buffer, Buffer[]]> | undefined
      } catch (err) {
        if (this.#closed) return
        this.#failed.inc({ op: 'read' })
        log.warn({ err: (err as Error).message }, 'could not read the cluster stream; retrying')
        await new Promise((r) => setTimeout(r, 500))
        continue
      }
      if (this.#closed) return
      if (!batch || batch.length === 0) continue
      const delivered: Array<Promise<void>> = []
      for (const [id, fields] of batch) {
        this.#last = id.toString()
        const message = this.#decode(fields)
        if (!message) continue
        this.#received.inc()
        delivered.push(new Promise((resolve) => this.#local.emit(message, () => resolve())))
      }
      // Aedes' router holds a message until its subscribers took it: reading
      // waits for that too, so a node that cannot keep up reads slower rather
      // than holding the stream in memory.
      await Promise.all(delivered)
    }
  }

  /** The message an entry holds, or undefined for one this broker wrote itself. */
  #decode(fields: Buffer[]): Message | undefined {
    let origin: Buffer | undefined
    let packet: Buffer | undefined
    let payload: Buffer | undefined
    for (let i = 0; i + 1 < fields.length; i += 2) {
      const name = fields[i]!.toString()
      if (name === 'o') origin = fields[i + 1]
      else if (name === 'm') packet = fields[i + 1]
      else if (name === 'p') payload = fields[i + 1]
    }
    if (!packet || !origin || origin.equals(this.#origin)) return undefined
    try {
      return decodePacket(payload ?? null, packet) as Message
    } catch (err) {
      this.#failed.inc({ op: 'decode' })
      this.#options.log.warn({ err: (err as Error).message }, 'an entry of the cluster stream could not be read; skipped')
      return undefined
    }
  }

  #writeFailed(err: unknown): Error {
    this.#failed.inc({ op: 'write' })
    const error = err instanceof Error ? err : new Error(String(err))
    this.#options.log.warn({ err: error.message }, 'could not write to the cluster stream')
    return error
  }
}
