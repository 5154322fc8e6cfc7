import type { Redis } from 'ioredis'
import type { Logger } from 'pino'
import type { ClientDirectory, ClientFields } from '../broker/lifecycle-events.js'

// Takes every client of a dead broker off the list at once: whoever runs this
// first publishes their disconnected events, and no one else does.
const TAKE_ALL = `
local clients = redis.call('HGETALL', KEYS[1])
redis.call('DEL', KEYS[1])
return clients
`

/**
 * The clients connected to each broker of the cluster, in Redis (one hash per
 * broker id: client id → the fields its lifecycle events carry). A broker
 * adds its clients as they connect and takes them off as they leave; when a
 * broker dies, the node that finds it dead takes off what is left (see
 * ClientDirectory: each disconnected event is published once).
 */
export class RedisClientDirectory implements ClientDirectory {
  readonly #redis: Redis
  readonly #keyPrefix: string
  readonly #key: string
  readonly #log: Logger

  constructor(redis: Redis, keyPrefix: string, brokerId: string, log: Logger) {
    this.#redis = redis
    this.#keyPrefix = keyPrefix
    this.#key = this.#keyOf(brokerId)
    this.#log = log
  }

  connected(client: ClientFields): void {
    this.#redis.hset(this.#key, client.clientId, JSON.stringify(client)).catch((err: unknown) => {
      this.#log.warn({ err, clientId: client.clientId }, 'could not list a client for the cluster')
    })
  }

  async disconnected(clientId: string): Promise<boolean> {
    return (await this.#redis.hdel(this.#key, clientId)) === 1
  }

  /** Takes every client of broker `brokerId` off the list and returns them: theirs to report now. */
  async takeAll(brokerId: string): Promise<ClientFields[]> {
    const flat = await this.#redis.eval(TAKE_ALL, 1, this.#keyOf(brokerId)) as string[]
    const clients: ClientFields[] = []
    for (let i = 1; i < flat.length; i += 2) clients.push(JSON.parse(flat[i]!) as ClientFields)
    return clients
  }

  #keyOf(brokerId: string): string {
    return `${this.#keyPrefix}clients:${brokerId}`
  }
}
