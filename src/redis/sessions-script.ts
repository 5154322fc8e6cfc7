import { createHash } from 'node:crypto'
import type { ChainableCommander, Redis } from 'ioredis'

export type ScriptArg = string | Buffer | number

/** One run of a script: its keys and arguments. */
export interface ScriptCall {
  keys: readonly string[]
  args: readonly ScriptArg[]
}

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
      if (!isNoScript(err)) throw err
      return buffers.evalBuffer(this.#lua, keys.length, ...keys, ...args)
    }
  }

  /**
   * Runs the script several times in one pipeline (one round trip), each
   * run atomic on its own; the runs Redis did not know the script for are
   * sent again whole. Resolves to each run's reply, in order.
   */
  async runAll(redis: Redis, calls: readonly ScriptCall[]): Promise<unknown[]> {
    const results = await this.#pipeline(redis, calls, (pipeline, call) => pipeline.evalshaBuffer(this.#sha, call.keys.length, ...call.keys, ...call.args))
    const again = calls.flatMap((call, i) => (isNoScript(results[i]![0]) ? [i] : []))
    if (again.length > 0) {
      const retried = await this.#pipeline(redis, again.map((i) => calls[i]!), (pipeline, call) => pipeline.evalBuffer(this.#lua, call.keys.length, ...call.keys, ...call.args))
      again.forEach((at, i) => (results[at] = retried[i]!))
    }
    return results.map(([err, reply]) => {
      if (err) throw err
      return reply
    })
  }

  async #pipeline(redis: Redis, calls: readonly ScriptCall[], add: (pipeline: BufferPipeline, call: ScriptCall) => void): Promise<Array<[Error | null, unknown]>> {
    const pipeline = redis.pipeline()
    for (const call of calls) add(pipeline as unknown as BufferPipeline, call)
    return ((await pipeline.exec()) ?? []) as Array<[Error | null, unknown]>
  }
}

type BufferPipeline = ChainableCommander & {
  evalshaBuffer(sha: string, numkeys: number, ...args: ScriptArg[]): BufferPipeline
  evalBuffer(lua: string, numkeys: number, ...args: ScriptArg[]): BufferPipeline
}

function isNoScript(err: unknown): boolean {
  return err instanceof Error && err.message.startsWith('NOSCRIPT')
}
