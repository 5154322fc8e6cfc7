import { Agent, request } from 'node:http'
import { describe, expect, it } from 'vitest'
import { useApp } from '../helpers/use-app.js'

const TOKEN = 'keep-alive-admin-token-0123'
const METRICS_TOKEN = 'keep-alive-metrics-token-0123'
const f = useApp()

/** One keep-alive connection; each answer says which local port it came back on, to show that it is the same connection. */
function oneConnection(port: number) {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 })
  const get = (path: string, authorization?: string) => new Promise<{ status: number; localPort: number | undefined }>((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, agent, headers: authorization === undefined ? {} : { authorization } }, (res) => {
      res.resume()
      res.on('end', () => resolve({ status: res.statusCode ?? 0, localPort: res.socket?.localPort }))
    })
    req.on('error', reject)
    req.end()
  })
  return { get, close: () => agent.destroy() }
}

describe('a bearer token on a keep-alive connection', () => {
  it('is checked at every request, after the connection has shown the right one', async () => {
    await f.start(`admin:\n  token: ${TOKEN}\n  metricsToken: ${METRICS_TOKEN}\n`)
    const c = oneConnection(f.app.addresses.http.port)
    try {
      const first = await c.get('/api/rules', `Bearer ${TOKEN}`)
      expect(first.status).toBe(200)
      const sameLength = `Bearer ${TOKEN.slice(0, -1)}x`
      const answers = [
        await c.get('/api/rules', sameLength),
        await c.get('/api/rules', 'Bearer wrong'),
        await c.get('/api/rules'),
        // Each door has its own token: the admin token, shown on this connection, does not open /metrics.
        await c.get('/metrics', `Bearer ${TOKEN}`),
        await c.get('/api/rules', `bearer   ${TOKEN}`),
        await c.get('/metrics', `Bearer ${METRICS_TOKEN}`),
        await c.get('/api/rules', `Bearer ${METRICS_TOKEN}`),
        await c.get('/api/rules', `Bearer ${TOKEN}`),
      ]
      expect(answers.map((a) => a.status)).toEqual([401, 401, 401, 401, 200, 200, 401, 200])
      // All of them over the one connection.
      expect(new Set([first, ...answers].map((a) => a.localPort)).size).toBe(1)
    } finally {
      c.close()
    }
  })
})
