import { existsSync, mkdirSync } from 'node:fs'
import { setTimeout as sleep } from 'node:timers/promises'
import { answersPing } from '../../cluster/redis.js'
import { spawnPinned, stopProcess, type Spawned } from '../lib/child-processes.js'
import { freePort } from '../lib/ports.js'
import { BROKER_CPU, lastLine, PeerUnavailable } from './peer.js'

const REDIS_SERVER = '/usr/bin/redis-server'
const START_TIMEOUT_MS = 10_000

export interface RunningRedis {
  pid: number
  /** redis://127.0.0.1:<port> */
  url: string
  port: number
  spawned: Spawned
}

/**
 * The settings of a Redis that holds a cluster's sessions and stream in
 * production, as far as they change what a message costs: the append-only
 * file on, written at every turn and fsynced once a second by a background
 * thread (`appendfsync everysec`, Redis' own advice for AOF), rewritten in
 * a forked child as it grows (the defaults: at twice its size after the last
 * rewrite, from 64 MB). RDB snapshots are off, so that the only persistence
 * at work is the AOF. No password and loopback only, as the brokers' own
 * listeners here.
 */
export function redisArgs(port: number, dir: string): string[] {
  return [
    '--port', String(port), '--bind', '127.0.0.1', '--dir', dir,
    '--appendonly', 'yes', '--appendfsync', 'everysec', '--save', '',
    '--daemonize', 'no', '--logfile', '', '--loglevel', 'warning',
  ]
}

/**
 * Debian's `redis-server` on a free loopback port, with its files in `dir`,
 * pinned to the brokers' core: what it does for the nodes is broker work.
 * Throws PeerUnavailable when it is not installed or does not start.
 */
export async function startRedis(dir: string): Promise<RunningRedis> {
  if (!existsSync(REDIS_SERVER)) throw new PeerUnavailable(`${REDIS_SERVER} is not installed (apt-get install -y redis-server)`)
  mkdirSync(dir, { recursive: true })
  const port = await freePort()
  const spawned = spawnPinned({ cpu: BROKER_CPU, command: REDIS_SERVER, args: redisArgs(port, dir), cwd: dir })
  const deadline = Date.now() + START_TIMEOUT_MS
  while (!(await answersPing(port))) {
    if (spawned.exit || Date.now() > deadline) {
      await stopProcess(spawned)
      throw new PeerUnavailable(`redis-server did not start: ${lastLine(spawned.output())}`)
    }
    await sleep(20)
  }
  return { pid: spawned.child.pid!, url: `redis://127.0.0.1:${port}`, port, spawned }
}
