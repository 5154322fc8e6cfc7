import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { createConnection } from 'node:net'
import { join, relative } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { SetupError } from './setup-error.js'


export interface RedisProcess {
  port: number
  url: string
  child: ChildProcess
}

/** The path of `redis-server`, or a SetupError that says how to install it. */
export function findRedisServer(): string {
  const bin = spawnSync('sh', ['-c', 'command -v redis-server'], { encoding: 'utf8' }).stdout.trim()
  if (bin === '') {
    throw new SetupError('redis-server is not installed: run `sudo apt-get install redis-server` (npm run cluster runs its own redis-server, beside the service the package starts), or use `docker compose up`.')
  }
  return bin
}

/**
 * Starts Debian's `redis-server` on 127.0.0.1:`port` with its data in `dir`:
 * AOF on with `appendfsync everysec` (a local trial: up to a second of writes
 * may be lost if the machine itself goes down; a clean stop loses nothing),
 * RDB snapshots off. Its own process group, so that Ctrl-C in the terminal
 * reaches only the runner, which stops Redis after the nodes. Resolves once
 * it answers PING (after loading its AOF).
 */
export async function startRedis(bin: string, dir: string, port: number, onOutput: (child: ChildProcess) => void): Promise<RedisProcess> {
  const pidFile = join(dir, 'redis.pid')
  const earlier = runningRedis(pidFile)
  if (earlier !== undefined) {
    throw new SetupError(`a redis-server from an earlier run (pid ${earlier}) still uses ${relative(process.cwd(), dir)}: stop it with \`kill ${earlier}\`, then run again.`)
  }
  const child = spawn(bin, [
    '--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--pidfile', pidFile,
    '--appendonly', 'yes', '--appendfsync', 'everysec', '--save', '',
    '--daemonize', 'no', '--logfile', '',
  ], { stdio: ['ignore', 'pipe', 'pipe'], detached: true })
  onOutput(child)
  const deadline = Date.now() + 30_000
  while (!(await answersPing(port))) {
    if (child.exitCode !== null || child.signalCode !== null) throw new SetupError(`redis-server exited (${child.exitCode ?? child.signalCode}) before it answered; its output is above.`)
    if (Date.now() > deadline) throw new SetupError(`redis-server did not answer on 127.0.0.1:${port} within 30 s; its output is above.`)
    await sleep(50)
  }
  return { port, url: `redis://127.0.0.1:${port}`, child }
}

/** The pid in `pidFile` when that process is still a redis-server. */
function runningRedis(pidFile: string): number | undefined {
  if (!existsSync(pidFile)) return undefined
  const pid = Number(readFileSync(pidFile, 'utf8').trim())
  if (!Number.isInteger(pid) || pid <= 0) return undefined
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('redis-server') ? pid : undefined
  } catch {
    return undefined
  }
}

/** Whether Redis answers PING with PONG (not yet while it loads its AOF: it answers -LOADING). */
export function answersPing(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ port, host: '127.0.0.1' })
    let data = ''
    const done = (ok: boolean) => {
      socket.destroy()
      resolve(ok)
    }
    socket.setTimeout(1000, () => done(false))
    socket.on('error', () => done(false))
    socket.on('connect', () => socket.write('PING\r\n'))
    socket.on('data', (d) => {
      data += d.toString()
      if (data.includes('\r\n')) done(data.startsWith('+PONG'))
    })
  })
}
