import { request, type IncomingHttpHeaders } from 'node:http'
import { connect as connectTcp } from 'node:net'
import WebSocket from 'ws'

/** An HTTP answer as a test reads it. */
export interface HttpAnswer {
  status: number
  headers: IncomingHttpHeaders
  body: string
}

/**
 * A request to 127.0.0.1:`port` with headers that fetch() will not send as
 * given: a `Host` of another name (what a browser sends for a page whose DNS
 * name was rebound to this machine), an `Origin`.
 */
export function httpRequest(port: number, path: string, init: { method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method: init.method ?? 'GET', headers: init.headers ?? {} }, (res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (chunk: string) => (body += chunk))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }))
      res.on('error', reject)
    })
    req.on('error', reject)
    req.end(init.body)
  })
}

/**
 * Sends `text` as it is on a new connection to 127.0.0.1:`port` and
 * resolves with the status line's code and what follows, once the server
 * closes the connection (send `Connection: close`, or HTTP/1.0).
 */
export function rawHttp(port: number, text: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const socket = connectTcp(port, '127.0.0.1')
    let received = ''
    socket.setEncoding('utf8')
    socket.on('data', (chunk: string) => (received += chunk))
    socket.on('error', reject)
    socket.on('close', () => resolve({ status: Number(/^HTTP\/1\.[01] (\d{3})/.exec(received)?.[1] ?? 0), text: received }))
    socket.write(text)
  })
}

/** How a WebSocket upgrade to /mqtt ends: `open`, or the refusal's status and body. */
export function wsUpgrade(port: number, headers: Record<string, string>): Promise<{ status: 'open' } | { status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/mqtt`, 'mqtt', { headers })
    ws.once('open', () => {
      ws.close()
      resolve({ status: 'open' })
    })
    ws.once('unexpected-response', (_req, res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (chunk: string) => (body += chunk))
      res.on('end', () => {
        resolve({ status: res.statusCode ?? 0, body })
        ws.terminate()
      })
    })
    ws.once('error', reject)
  })
}
