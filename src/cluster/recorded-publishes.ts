import type { Redis } from 'ioredis'
import { createHash } from 'node:crypto'

/** A client's QoS 1/2 publish as far as it tells a retransmit from a new message. */
export interface PublishRef {
  topic: string
  payload: Buffer | string
  messageId?: number | undefined
}

/**
 * The QoS 1/2 publishes whose durable deliveries are recorded, by client id
 * and packet id, so that a retransmit does not record them again.
 *
 * A node can die after it recorded a publish's deliveries and before its
 * PUBACK left; the client then sends the PUBLISH again, with DUP set
 * [MQTT-3.3.1-1], to whichever node it reconnects to. That node finds the
 * publish here and runs its rules no second time (the message still goes to
 * subscribers: at least once). A packet id names a different message once it
 * was acknowledged, so a publish counts as seen only when it also carries the
 * same topic and payload.
 */
export class RecordedPublishes {
  readonly #redis: Redis
  readonly #keyPrefix: string
  readonly #ttlMs: number

  constructor(redis: Redis, keyPrefix: string, ttlMs: number) {
    this.#redis = redis
    this.#keyPrefix = `${keyPrefix}recorded:`
    this.#ttlMs = ttlMs
  }

  /** Whether the deliveries of this retransmitted publish were recorded before. */
  async seen(clientId: string, publish: PublishRef): Promise<boolean> {
    if (publish.messageId === undefined) return false
    return (await this.#redis.get(this.#key(clientId, publish.messageId))) === digest(publish)
  }

  /** Notes that this publish's deliveries are recorded. */
  async remember(clientId: string, publish: PublishRef): Promise<void> {
    if (publish.messageId === undefined) return
    await this.#redis.set(this.#key(clientId, publish.messageId), digest(publish), 'PX', this.#ttlMs)
  }

  #key(clientId: string, messageId: number): string {
    return `${this.#keyPrefix}${clientId}:${messageId}`
  }
}

function digest(publish: PublishRef): string {
  return createHash('sha1').update(publish.topic).update('\0').update(publish.payload).digest('base64url')
}
