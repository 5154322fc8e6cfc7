import { Redis } from 'ioredis'
import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll } from 'vitest'
import { answersPing } from '../../cluster/redis.js'
import { closedPort } from './net.js'
import { requireCommand } from './require-command.js'

export interface RedisServer {
  port: number
  /** redis://127.0.0.1:<port> */
  url: string
  /** The server's working folder: its AOF files. */
  dir: string
  /** Stops the server as an operator would (SIGTERM: Redis writes what it holds, then exits). */
  stop(): Promise<void>
  /** Kills the server with SIGKILL: what the last fsync did not write is gone. */
  kill(): Promise<void>
  /** Starts it again on the same port and folder (after stop or kill). */
  restart(): Promise<void>
  /** Stops the server if it runs and removes its folder. */
  remove(): Promise<void>
}

export interface RedisOptions {
  /** `appendfsync`: 'always' unless given (tests check what is acknowledged survives). */
  appendfsync?: 'always' | 'everysec' | 'no'
}

/**
 * Starts Debian's `redis-server` on a free loopback port with a fresh temp
 * folder, AOF on, RDB snapshots off. Throws when redis-server is missing or
 * does not start: a cluster test fails, it never skips.
 */
export async function startRedis(options: RedisOptions = {}): Promise<RedisServer> {
  const bin = requireCommand('redis-server', 'redis-server')
  const dir = mkdtempSync(join(tmpdir(), 'switchyard-redis-'))
  const port = await closedPort()
  let child: ChildProcess | undefined

  const run = async () => {
    const args = [
      '--port', String(port), '--bind', '127.0.0.1', '--dir', dir,
      '--appendonly', 'yes', '--appendfsync', options.appendfsync ?? 'always', '--save', '',
      '--daemonize', 'no', '--logfile', '',
    ]
    const proc = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] })
    let output = ''
    proc.stdout!.on('data', (d: Buffer) => (output += d.toString()))
    proc.stderr!.on('data', (d: Buffer) => (output += d.toString()))
    const exited = once(proc, 'exit')
    const deadline = Date.now() + 10_000
    while (!(await answersPing(port))) {
      if (proc.exitCode !== null || proc.signalCode !== null) throw new Error(`redis-server exited before it started: ${output.slice(-2000)}`)
      if (Date.now() > deadline) {
        proc.kill('SIGKILL')
        await exited
        throw new Error(`redis-server did not answer on port ${port} within 10 s: ${output.slice(-2000)}`)
      }
      await new Promise((r) => setTimeout(r, 20))
    }
    child = proc
  }

  const end = async (signal: NodeJS.Signals) => {
    const proc = child
    child = undefined
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return
    const exited = once(proc, 'exit')
    proc.kill(signal)
    await exited
  }

  await run()
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    dir,
    stop: () => end('SIGTERM'),
    kill: () => end('SIGKILL'),
    async restart() {
      await end('SIGTERM')
      await run()
    },
    async remove() {
      await end('SIGKILL')
      rmSync(dir, { recursive: true, force: true })
    },
  }
}

/**
 * One Redis for the tests of a file (started before them, removed after),
 * and stores opened on it the way contract suites want them: each on a
 * fresh key prefix (empty storage) and a connection of its own,
 * auto-pipelined as a cluster's is, which closing the store quits.
 */
export function useRedisForFile(): { open<S>(make: (redis: Redis, keyPrefix: string) => S): Promise<{ store: S; close(): Promise<void> }> } {
  let server: RedisServer | undefined
  let prefixes = 0
  beforeAll(async () => {
    server = await startRedis({ appendfsync: 'everysec' })
  })
  afterAll(async () => {
    await server?.remove()
  })
  return {
    async open(make) {
      if (!server) throw new Error('useRedisForFile(): the Redis is not started yet (open stores inside tests)')
      const redis = new Redis(server.url, { enableAutoPipelining: true })
      return { store: make(redis, `contract-${++prefixes}:`), close: async () => void (await redis.quit()) }
    },
  }
}
