import type { Redis } from 'ioredis'

/** What a node tells the others about itself. */
export interface NodeInfo {
  /** The node's id (`cluster.nodeId`). */
  id: string
  /** Its broker's id: new at each start, so a restarted node is told from the run before. */
  brokerId: string
  /** Where it listens, as it sees its own listeners. */
  address: { host: string; mqtt?: number; http?: number; mqtts?: number; https?: number }
  /** MQTT clients connected to it at its last heartbeat. */
  clients: number
  /** When it started, ms since the epoch. */
  startedAt: number
  /** The version of the route state its route table holds (see RouteCache); absent before it first read them. */
  routesVersion?: number
}

/** A node as the registry lists it. */
export interface SeenNode extends NodeInfo {
  /** Its last heartbeat, ms since the epoch by Redis' clock. */
  heartbeat: number
  /** How long ago that was, by Redis' clock. */
  silentFor: number
}

// Writes the node's entry and stamps its heartbeat with Redis' own clock, so
// that nodes whose clocks differ still agree on who is silent. Answers the
// time, and whether the entry was there before (not: this node was taken
// for dead and removed).
const HEARTBEAT = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local fresh = redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('HSET', KEYS[2], ARGV[1], now)
return { now, fresh }
`

// Lists every entry with its heartbeat and Redis' time.
const LIST = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
return { now, redis.call('HGETALL', KEYS[1]), redis.call('HGETALL', KEYS[2]) }
`

// Removes a node's entry if it still belongs to the same broker (a node that
// restarted under the same id meanwhile keeps its new entry).
const REMOVE = `
local entry = redis.call('HGET', KEYS[1], ARGV[1])
if not entry then return 0 end
if cjson.decode(entry).brokerId ~= ARGV[2] then return 0 end
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('HDEL', KEYS[2], ARGV[1])
return 1
`

/**
 * The nodes of the cluster, as entries in two Redis hashes (node id → what it
 * says about itself; node id → its last heartbeat by Redis' clock).
 */
export class NodeRegistry {
  readonly #redis: Redis
  readonly #keys: [string, string]

  constructor(redis: Redis, keyPrefix: string) {
    this.#redis = redis
    this.#keys = [`${keyPrefix}nodes`, `${keyPrefix}heartbeats`]
  }

  /** Writes the node's entry and heartbeat. `removed` is true when its entry was gone: the others took it for dead. */
  async beat(node: NodeInfo): Promise<{ now: number; removed: boolean }> {
    const [now, fresh] = await this.#redis.eval(HEARTBEAT, 2, ...this.#keys, node.id, JSON.stringify(node)) as [number, number]
    return { now, removed: fresh === 1 }
  }

  /** Every node with an entry, alive or silent, by id. */
  async list(): Promise<SeenNode[]> {
    const [now, entries, beats] = await this.#redis.eval(LIST, 2, ...this.#keys) as [number, string[], string[]]
    const heartbeats = new Map<string, number>()
    for (let i = 0; i + 1 < beats.length; i += 2) heartbeats.set(beats[i]!, Number(beats[i + 1]))
    const nodes: SeenNode[] = []
    for (let i = 0; i + 1 < entries.length; i += 2) {
      const heartbeat = heartbeats.get(entries[i]!) ?? 0
      nodes.push({ ...(JSON.parse(entries[i + 1]!) as NodeInfo), heartbeat, silentFor: now - heartbeat })
    }
    return nodes.sort((a, b) => a.id.localeCompare(b.id))
  }

  /** Removes the entry of node `id` if it is still the one of broker `brokerId`. */
  async remove(id: string, brokerId: string): Promise<boolean> {
    return (await this.#redis.eval(REMOVE, 2, ...this.#keys, id, brokerId)) === 1
  }
}
