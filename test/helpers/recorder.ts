import { createServer, type IncomingMessage, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'

export interface Recorded {
  path: string
  body: any
}

/**
 * An HTTP endpoint on 127.0.0.1 that records what it is sent and answers
 * with the status `status()` gives (200 unless changed).
 */
export class Recorder {
  readonly calls: Recorded[] = []
  status: (req: IncomingMessage) => number = () => 200
  /** How long each answer waits. */
  delayMs = 0
  #server: Server | undefined

  async start(): Promise<string> {
    this.#server = createServer((req, res) => {
      let body = ''
      req.on('data', (d: Buffer) => (body += d.toString()))
      req.on('end', () => setTimeout(() => {
        const status = this.status(req)
        if (status < 300) this.calls.push({ path: req.url!, body: body ? JSON.parse(body) : null })
        res.statusCode = status
        res.setHeader('content-type', 'application/json')
        res.end(JSON.stringify({ ok: status < 300 }))
      }, this.delayMs))
    })
    await new Promise<void>((r) => this.#server!.listen(0, '127.0.0.1', r))
    return this.url
  }

  /** Where it listens, once started. */
  get url(): string {
    return `http://127.0.0.1:${(this.#server!.address() as AddressInfo).port}`
  }

  async close(): Promise<void> {
    this.#server?.closeAllConnections()
    await new Promise<void>((r) => (this.#server ? this.#server.close(() => r()) : r()))
  }
}
