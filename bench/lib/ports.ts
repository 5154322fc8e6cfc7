import { createServer, connect } from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'

/**
 * A port that was free a moment ago: bind port 0 on loopback, read the port,
 * close. Brokers are given fixed ports this way because Switchyard at log
 * level warn does not print the ports it picked.
 */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      const port = typeof address === 'object' && address ? address.port : 0
      server.close(() => (port ? resolve(port) : reject(new Error('could not read a free port'))))
    })
  })
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port })
    socket.once('connect', () => {
      socket.destroy()
      resolve(true)
    })
    socket.once('error', () => resolve(false))
  })
}

/**
 * Polls until the port accepts a TCP connection. `gaveUp` is asked between
 * polls so that a broker that has already exited is not waited for.
 */
export async function waitForPort(port: number, timeoutMs: number, gaveUp: () => string | undefined): Promise<void> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const reason = gaveUp()
    if (reason) throw new Error(reason)
    if (await accepts(port)) return
    if (Date.now() > deadline) throw new Error(`nothing accepted connections on 127.0.0.1:${port} within ${timeoutMs} ms`)
    await sleep(50)
  }
}
