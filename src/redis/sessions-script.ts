import { createHash } from 'node:crypto'
import type { Redis } from 'ioredis'

export type ScriptArg = string | Buffer | number

/** ioredis has a Buffer-replying twin of every command; its types leave out these two. */
interface BufferReplies {
  evalshaBuffer(sha: string, numkeys: number, ...args: ScriptArg[]): Promise<unknown>
  evalBuffer(lua: string, numkeys: number, ...args: ScriptArg[]): Promise<unknown>
}

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
    // The named commands, not callBuffer(): ioredis' auto-pipelining cannot send a call.
    const buffers = redis as unknown as BufferReplies
    try {
      return await buffers.evalshaBuffer(this.#sha, keys.length, ...keys, ...args)
    } catch (err) {
      if (!(err instanceof Error) || !err.message.startsWith('NOSCRIPT')) throw err
      return buffers.evalBuffer(this.#lua, keys.length, ...keys, ...args)
    }
  }
}
