import { describe, expect, it } from 'vitest'
import { Inbox } from '../helpers/mqtt.js'
import { useApp } from '../helpers/use-app.js'
import { waitUntil } from '../helpers/wait.js'

// An http action's URL is the config's: a value filled into it from a
// device's message is data, and must not change its path or its query.

const TOKEN = 'test-admin-token-0123456789'
const f = useApp({ adminToken: TOKEN })

const ATTACK = '../../admin/reset?x='

describe('an http action\'s URL template', () => {
  it.each([false, true])('percent-encodes each value, so that a device cannot change the path or the query (durable: %s)', async (durable) => {
    const backend = await f.recorder()
    await f.start(`
rules:
  - name: status
    sql: SELECT * FROM 'devices/+/status'
    actions:
      - http: { url: '${backend.url}/api/devices/\${device}/status?site=\${site}&from=\${topic(2)}', durable: ${durable} }
`)
    const c = await f.connect()
    await c.publishAsync('devices/d1/status', JSON.stringify({ device: ATTACK, site: 'a&admin=1#frag' }), { qos: 1 })
    await c.publishAsync('devices/d2/status', JSON.stringify({ device: 'thermostat 7', site: 'ümlaut/€' }), { qos: 1 })
    await waitUntil(() => backend.calls.length, { until: (n) => n === 2, what: 'both requests at the backend' })
    expect(backend.calls.map((call) => call.path).sort()).toEqual([
      '/api/devices/..%2F..%2Fadmin%2Freset%3Fx%3D/status?site=a%26admin%3D1%23frag&from=d1',
      '/api/devices/thermostat%207/status?site=%C3%BCmlaut%2F%E2%82%AC&from=d2',
    ])
    // What the backend reads back is each value, whole, where the config put it.
    const first = new URL(backend.calls.find((call) => call.path.includes('from=d1'))!.path, backend.url)
    expect(decodeURIComponent(first.pathname.split('/')[3]!)).toBe(ATTACK)
    expect(Object.fromEntries(first.searchParams)).toEqual({ site: 'a&admin=1#frag', from: 'd1' })
  })

  it('refuses a value that would be a . or .. segment, which fetch resolves against the path', async () => {
    const backend = await f.recorder()
    await f.start(`
rules:
  - name: status
    sql: SELECT * FROM 'devices/+/status'
    actions:
      - http: { url: '${backend.url}/api/devices/\${device}/status' }
    errorAction:
      republish: { topic: 'errors/status' }
`)
    const c = await f.connect()
    const inbox = new Inbox(c)
    await c.subscribeAsync('errors/status', { qos: 1 })
    await c.publishAsync('devices/d1/status', JSON.stringify({ device: '..' }), { qos: 1 })
    const doc = JSON.parse((await inbox.on('errors/status')).payload) as { failures: Array<Record<string, unknown>> }
    expect(doc.failures).toEqual([expect.objectContaining({
      failedAction: 'http',
      retryable: false,
      errorMessage: `POST ${backend.url}/api/devices/../status was not sent: its path has a "." or ".." segment, which would change the path it goes to`,
    })])
    expect(backend.calls).toEqual([])
  })
})
