import type { Redis } from 'ioredis'
import type { StoredPacket } from '../storage/session-types.js'
import { packPacket, unpackPacket } from './sessions-codec.js'
import type { SessionKeys } from './sessions-keys.js'

/**
 * Incoming QoS 2 packets between PUBLISH and PUBREL [MQTT-4.3.3-2], one hash
 * per client (message id -> packet), so that a PUBREL is recognised by
 * whichever node the client reconnected to. Each call is one command.
 */
export class RedisIncoming {
  readonly #redis: Redis
  readonly #keys: SessionKeys

  constructor(redis: Redis, keys: SessionKeys) {
    this.#redis = redis
    this.#keys = keys
  }

  async put(clientId: string, packet: StoredPacket & { messageId: number }): Promise<void> {
    await this.#redis.hset(this.#keys.incoming(clientId), String(packet.messageId), packPacket(packet))
  }

  /** Rejects when there is none, as Aedes expects. */
  async get(clientId: string, messageId: number): Promise<StoredPacket> {
    const packet = await this.#redis.hgetBuffer(this.#keys.incoming(clientId), String(messageId))
    if (!packet) throw new Error('no such packet')
    return unpackPacket(packet)
  }

  /** Rejects when there is none, as Aedes' memory persistence does. */
  async delete(clientId: string, messageId: number): Promise<void> {
    if (await this.#redis.hdel(this.#keys.incoming(clientId), String(messageId)) === 0) throw new Error('no such packet')
  }

  /** Forgets a client's QoS 2 state when its session ends [MQTT-3.1.2-6]. */
  async clean(clientId: string): Promise<void> {
    await this.#redis.del(this.#keys.incoming(clientId))
  }
}
