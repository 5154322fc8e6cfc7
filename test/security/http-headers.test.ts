import { createServer } from 'node:http'
import { describe, expect, it } from 'vitest'
import { parseConfig } from '../../src/config/load.js'
import { launchChromium } from '../helpers/chromium.js'
import { httpRequest } from '../helpers/http-request.js'
import { useApp } from '../helpers/use-app.js'

const TOKEN = 'headers-test-admin-token'
const METRICS_TOKEN = 'metrics-scraper-token-0123'
const f = useApp({ adminToken: TOKEN })

/** The directives of a Content-Security-Policy header, by name. */
function directives(header: string | string[] | undefined): Record<string, string> {
  expect(typeof header).toBe('string')
  return Object.fromEntries((header as string).split(';').map((d) => d.trim()).filter(Boolean).map((d) => {
    const [name, ...values] = d.split(/\s+/)
    return [name!, values.join(' ')]
  }))
}

describe('security headers', () => {
  it('come with every response: the chat, its files, MQTT.js, /healthz, /metrics, the API, errors and refusals', async () => {
    await f.start()
    const port = f.app.addresses.http.port
    const paths = ['/', '/lobby', '/chat/main.js', '/chat/chat.css', '/vendor/mqtt/mqtt.esm.js', '/healthz', '/metrics', '/api/rules', '/api/nothing', '/no/such/file']
    for (const path of paths) {
      const { headers } = await httpRequest(port, path, { headers: { Host: `localhost:${port}` } })
      const csp = directives(headers['content-security-policy'])
      // Clickjacking: no page of another site may frame the chat. Only the
      // header can say so: browsers ignore frame-ancestors in a <meta> tag.
      expect(csp['frame-ancestors'], path).toBe("'self'")
      expect(csp['default-src'], path).toBe("'self'")
      expect(csp['object-src'], path).toBe("'none'")
      expect(csp['base-uri'], path).toBe("'self'")
      // The chat's WebSocket to /mqtt, on the host the page came from.
      expect(csp['connect-src'], path).toBe(`'self' ws://localhost:${port} wss://localhost:${port}`)
      expect(headers['x-content-type-options'], path).toBe('nosniff')
      expect(headers['referrer-policy'], path).toBe('no-referrer')
    }
    // A body that is not JSON: refused before any handler runs.
    const malformed = await httpRequest(port, '/api/functions/any/invoke', { method: 'POST', headers: { Host: `localhost:${port}`, authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' }, body: '{"event":' })
    expect(malformed.status).toBe(400)
    expect(directives(malformed.headers['content-security-policy'])['frame-ancestors']).toBe("'self'")
    expect(malformed.headers['referrer-policy']).toBe('no-referrer')
    const refused = await httpRequest(port, '/', { headers: { Host: `evil.example:${port}` } })
    expect(refused.status).toBe(421)
    expect(directives(refused.headers['content-security-policy'])['frame-ancestors']).toBe("'self'")
    expect(refused.headers['x-content-type-options']).toBe('nosniff')
  })

  it('keep a page of another site from framing the chat, in a real browser', async () => {
    await f.start()
    const chat = `${f.app.httpUrl}/lobby`
    // Another origin: the same address on another port.
    const attacker = createServer((_req, res) => {
      res.setHeader('content-type', 'text/html')
      res.end(`<!doctype html><title>prize</title><iframe id="victim" src="${chat}" width="800" height="600"></iframe>`)
    })
    const attackerPort = await f.listen(attacker)
    const browser = await launchChromium(f)
    const page = await browser.newPage()
    const refusal = page.waitForEvent('console', { predicate: (m) => /frame-ancestors/.test(m.text()), timeout: 10_000 })
    refusal.catch(() => {})
    // goto resolves on the page's load event, which waits for its frame.
    await page.goto(`http://127.0.0.1:${attackerPort}/`)
    const frame = page.frames().find((fr) => fr !== page.mainFrame())!
    // The frame holds Chromium's error page, not the chat.
    expect(await frame.locator('#room-name').count()).toBe(0)
    expect(frame.url()).not.toBe(chat)
    expect((await refusal).text()).toContain(`'${f.app.httpUrl}/'`)
  })
})

describe('admin.metricsToken', () => {
  it('puts /metrics behind its own bearer token', async () => {
    await f.start(`admin:\n  token: ${TOKEN}\n  metricsToken: ${METRICS_TOKEN}\n`, { noAdmin: true })
    const port = f.app.addresses.http.port
    const get = (authorization?: string) => httpRequest(port, '/metrics', { headers: authorization ? { authorization } : {} })
    const open = await get()
    expect(open.status).toBe(401)
    expect(open.headers['www-authenticate']).toBe('Bearer')
    expect(open.body).not.toContain('switchyard_')
    expect((await get('Bearer wrong-token-of-some-length')).status).toBe(401)
    // The admin token opens the admin API, not the scraper's door.
    expect((await get(`Bearer ${TOKEN}`)).status).toBe(401)
    const scraped = await get(`Bearer ${METRICS_TOKEN}`)
    expect(scraped.status).toBe(200)
    expect(scraped.body).toContain('switchyard_mqtt_connections')
    // /healthz stays open: load balancers send no token.
    expect((await httpRequest(port, '/healthz')).status).toBe(200)
  })

  it('leaves /metrics open without one, as on a loopback listener it always was', async () => {
    await f.start()
    expect((await httpRequest(f.app.addresses.http.port, '/metrics')).status).toBe(200)
  })

  it('is asked for in a warning at start when HTTP listens beyond loopback without one', async () => {
    const listenYaml = 'listen:\n  mqtt: 0\n  http: "0.0.0.0:0"\n'
    const t = await f.start('', { listenYaml, captureLogs: true })
    expect(t.logs.find((line) => line.level === 40 && /admin\.metricsToken/.test(line.msg))?.msg).toMatch(/\/metrics on 0\.0\.0\.0:\d+/)
    await f.app.close()
    const quiet = await f.start(`admin:\n  metricsToken: ${METRICS_TOKEN}\n`, { listenYaml, captureLogs: true, noAdmin: true })
    expect(quiet.logs.filter((line) => /metricsToken/.test(line.msg))).toEqual([])
  })

  it('is at least 16 characters, with the line named', () => {
    expect(() => parseConfig('admin:\n  metricsToken: short\n', 'x.yaml')).toThrow(/^x\.yaml:2:\d+: admin\.metricsToken must be at least 16 characters/)
  })
})
