import type { Redis } from 'ioredis'
import type { RouteState, RouteStateStore, RuleSwitch, SavedRoute } from '../storage/route-state-store.js'
import { RedisScript } from './sessions-script.js'

export interface RedisRouteStateStoreOptions {
  /** An ioredis client the caller owns and closes. It must not have a `keyPrefix` of its own. */
  redis: Redis
  /** Prefixes every key (the store's are under `${keyPrefix}routes:`) and the change channel, `${keyPrefix}routes`. */
  keyPrefix: string
}

/** The keys of the route state (rule switches included), and the channel its changes are told on. */
export interface RouteKeys {
  /** STRING: the version, INCR'd at every change (absent: 0). */
  version: string
  /** HASH route name -> `{ updatedAt, definition }` as JSON. */
  definitions: string
  /** HASH route name -> '1' (held) or '0' (released). */
  held: string
  /** HASH rule name -> `{ enabled, updatedAt }` as JSON; a cleared switch is no field. */
  rules: string
  /** The pub/sub channel of change notices (see route-state-watch.ts). */
  channel: string
}

export function routeKeys(keyPrefix: string): RouteKeys {
  const base = `${keyPrefix}routes:`
  return { version: `${base}version`, definitions: `${base}definitions`, held: `${base}held`, rules: `${base}rules`, channel: `${keyPrefix}routes` }
}

// KEYS: the hash to write, the version. ARGV: the channel, the route name, the value.
// Writes the field, moves the version on and tells the channel, at once:
// notices go out in version order, and none is told without its change.
// Returns the new version.
const change = new RedisScript(`
redis.call('HSET', KEYS[1], ARGV[2], ARGV[3])
local version = redis.call('INCR', KEYS[2])
redis.call('PUBLISH', ARGV[1], cjson.encode({ version = version, route = ARGV[2] }))
return version
`)

// As `change`, for a rule switch: an empty value clears it. The notice
// names the rule (`{"version":13,"rule":"audit"}`).
const switchRule = new RedisScript(`
if ARGV[3] == '' then
  redis.call('HDEL', KEYS[1], ARGV[2])
else
  redis.call('HSET', KEYS[1], ARGV[2], ARGV[3])
end
local version = redis.call('INCR', KEYS[2])
redis.call('PUBLISH', ARGV[1], cjson.encode({ version = version, rule = ARGV[2] }))
return version
`)

/**
 * The changes made to routes and rules through the admin API, in Redis,
 * shared by the nodes of a cluster: a hash of definitions and a hash of hold
 * flags, one field per route, a hash of rule switches, one field per rule,
 * and a version. Each change is one script (one round
 * trip) that writes its field, INCRs the version and publishes a notice
 * (`{"version":12,"route":"chat"}`) on `${keyPrefix}routes`, all at once: two
 * nodes changing routes together each get a version of their own, and a
 * definition put on one node and a hold set on another never overwrite each
 * other, as they are different fields (no read-modify-write of a route).
 * A rule switch moves the same version and is told on the same channel,
 * so a node reads it with the routes.
 * `read()` is one MULTI (the version and the hashes as of one moment);
 * `version()` one GET.
 *
 * Nodes learn of others' changes from the notices: see `watchRouteChanges`
 * in route-state-watch.ts.
 */
export class RedisRouteStateStore implements RouteStateStore {
  readonly #redis: Redis
  readonly #keys: RouteKeys

  constructor(options: RedisRouteStateStoreOptions) {
    if (options.redis.options.keyPrefix) throw new TypeError('RedisRouteStateStore: give the key prefix as keyPrefix, not as the ioredis client\'s own keyPrefix option')
    this.#redis = options.redis
    this.#keys = routeKeys(options.keyPrefix)
  }

  async read(): Promise<RouteState> {
    const { version, definitions, held, rules } = this.#keys
    const results = await this.#redis.multi().get(version).hgetall(definitions).hgetall(held).hgetall(rules).exec()
    const failed = results?.find(([err]) => err)
    if (!results || failed) throw failed?.[0] ?? new Error('the routes were not read: the transaction was aborted')
    const [[, v], [, defined], [, flags], [, switches]] = results as [[null, string | null], [null, Record<string, string>], [null, Record<string, string>], [null, Record<string, string>]]
    const names = [...new Set([...Object.keys(defined), ...Object.keys(flags)])].sort()
    return {
      version: Number(v ?? 0),
      routes: names.map((name): SavedRoute => {
        // hasOwn: a route may be called `constructor`.
        const saved = Object.hasOwn(defined, name) ? (JSON.parse(defined[name]!) as { updatedAt: number; definition?: unknown }) : undefined
        return { name, definition: saved?.definition ?? null, held: Object.hasOwn(flags, name) && flags[name] === '1', updatedAt: saved?.updatedAt ?? null }
      }),
      rules: Object.keys(switches).sort().map((name): RuleSwitch => {
        const saved = JSON.parse(switches[name]!) as { enabled: boolean; updatedAt: number }
        return { name, enabled: saved.enabled, updatedAt: saved.updatedAt }
      }),
    }
  }

  async version(): Promise<number> {
    return Number((await this.#redis.get(this.#keys.version)) ?? 0)
  }

  async putDefinition(name: string, definition: unknown, at: number): Promise<number> {
    return this.#change(this.#keys.definitions, name, JSON.stringify({ updatedAt: at, definition }))
  }

  // `at` is not kept: updatedAt says when the definition was put, and a hold leaves it.
  async setHeld(name: string, held: boolean, _at: number): Promise<number> {
    return this.#change(this.#keys.held, name, held ? '1' : '0')
  }

  async setRuleEnabled(name: string, enabled: boolean | null, at: number): Promise<number> {
    const { rules, version, channel } = this.#keys
    const value = enabled === null ? '' : JSON.stringify({ enabled, updatedAt: at })
    return Number(await switchRule.run(this.#redis, [rules, version], [channel, name, value]))
  }

  async #change(hash: string, name: string, value: string): Promise<number> {
    const { version, channel } = this.#keys
    return Number(await change.run(this.#redis, [hash, version], [channel, name, value]))
  }
}
