// A real redis-server for the node --test suites, which cannot import the
// TypeScript helpers (test/helpers/redis.ts is the vitest one): Debian's
// redis-server on a free loopback port with a fresh temp folder, AOF on, RDB
// snapshots off. Throws when redis-server is missing or does not start: a
// suite that needs Redis fails, it never skips.
import { spawn, spawnSync } from 'node:child_process'
import { once } from 'node:events'
import { mkdtempSync, rmSync } from 'node:fs'
import { createConnection, createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

/** Starts redis-server; resolves to { port, url, stop() } once it answers PING. stop() kills it and removes its folder. */
export async function startRedis() {
  const found = spawnSync('sh', ['-c', 'command -v redis-server'], { encoding: 'utf8' })
  const bin = found.stdout.trim()
  if (found.status !== 0 || bin === '') throw new Error('redis-server is not installed: run .ci/run, or apt-get install redis-server')
  const dir = mkdtempSync(join(tmpdir(), 'switchyard-redis-'))
  const port = await freePort()
  const proc = spawn(bin, [
    '--port', String(port), '--bind', '127.0.0.1', '--dir', dir,
    '--appendonly', 'yes', '--save', '', '--daemonize', 'no', '--logfile', '',
  ], { stdio: ['ignore', 'pipe', 'pipe'] })
  let output = ''
  proc.stdout.on('data', (d) => (output += d))
  proc.stderr.on('data', (d) => (output += d))
  const exited = once(proc, 'exit')
  const stop = async () => {
    if (proc.exitCode === null && proc.signalCode === null) {
      proc.kill('SIGKILL')
      await exited
    }
    rmSync(dir, { recursive: true, force: true })
  }
  const deadline = Date.now() + 10_000
  while (!(await answersPing(port))) {
    if (proc.exitCode !== null || proc.signalCode !== null || Date.now() > deadline) {
      await stop()
      throw new Error(`redis-server did not start on port ${port}: ${output.slice(-2000)}`)
    }
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
  return { port, url: `redis://127.0.0.1:${port}`, stop }
}

async function freePort() {
  const server = createServer()
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address()
  await new Promise((resolve) => server.close(resolve))
  return port
}

function answersPing(port) {
  return new Promise((resolve) => {
    const socket = createConnection({ port, host: '127.0.0.1' })
    let data = ''
    const done = (ok) => {
      socket.destroy()
      resolve(ok)
    }
    socket.setTimeout(500, () => done(false))
    socket.on('error', () => done(false))
    socket.on('connect', () => socket.write('PING\r\n'))
    socket.on('data', (d) => {
      data += d
      if (data.includes('\r\n')) done(data.startsWith('+PONG'))
    })
  })
}
