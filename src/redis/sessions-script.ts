import { createHash } from 'node:crypto'
import type { Redis } from 'ioredis'

export type ScriptArg = string | Buffer | number

/**
 * A Lua script run with EVALSHA, sent whole (EVAL) only when Redis does not
 * know it yet (after a restart or SCRIPT FLUSH): one round trip either way
 * but the first. Unlike ioredis' defineCommand, it adds nothing to the
 * caller's client.
 */
export class RedisScript {
  readonly #lua: string
  readonly #sha: string

  constructor(lua: string) {
    this.#lua = lua
    this.#sha = createHash('sha1').update(lua).digest('hex')
  }

  /** Runs the script; bulk replies come back as Buffers. */
  async run(redis: Redis, keys: readonly string[], args: readonly ScriptArg[]): Promise<unknown> {
    const tail = [keys.length, ...keys, ...args]
    try {
      return await redis.callBuffer('EVALSHA', [this.#sha, ...tail])
    } catch (err) {
      if (!(err instanceof Error) || !err.message.startsWith('NOSCRIPT')) throw err
      return redis.callBuffer('EVAL', [this.#lua, ...tail])
    }
  }
}
