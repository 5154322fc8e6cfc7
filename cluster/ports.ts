import { createServer } from 'node:net'
import { SetupError } from './setup-error.js'

/** Whether 127.0.0.1:`port` can be bound now (port 0: the port the system picks). Nodes bind loopback, so that is what is tried. */
function tryPort(port: number): Promise<number | undefined> {
  return new Promise((resolve) => {
    const server = createServer()
    server.once('error', () => resolve(undefined))
    server.listen(port, '127.0.0.1', () => {
      const address = server.address()
      const bound = typeof address === 'object' && address ? address.port : undefined
      server.close(() => resolve(bound))
    })
  })
}

/** `preferred` when it is free, else a port the system picks. */
export async function preferredOrFree(preferred: number): Promise<number> {
  const port = (await tryPort(preferred)) ?? (await tryPort(0))
  if (port === undefined) throw new SetupError('no free port on 127.0.0.1')
  return port
}

// How far past the preferred ports to look before giving up: far enough to
// step over a broker or two already running, near enough to stay guessable.
const SEARCH = 100

/**
 * `count` free ports, the first `first` if it is free and each next one
 * above the one before, skipping ports in use and those in `avoid`. Throws
 * a sentence naming the range when too few are free in it.
 */
export async function portsFrom(first: number, count: number, avoid: ReadonlySet<number> = new Set()): Promise<number[]> {
  const ports: number[] = []
  for (let port = first; port < first + SEARCH && ports.length < count; port++) {
    if (!avoid.has(port) && (await tryPort(port)) !== undefined) ports.push(port)
  }
  if (ports.length < count) throw new SetupError(`only ${ports.length} of the ${count} ports needed are free between ${first} and ${first + SEARCH - 1} on 127.0.0.1`)
  return ports
}
