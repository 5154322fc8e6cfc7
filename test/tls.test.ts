import { once } from 'node:events'
import { readFileSync } from 'node:fs'
import type { IncomingMessage } from 'node:http'
import { get } from 'node:https'
import { connect as tlsConnect } from 'node:tls'
import { describe, expect, it } from 'vitest'
import { parseConfig } from '../src/config/load.js'
import { fixturePath } from './helpers/fixtures.js'
import { useApp } from './helpers/use-app.js'
import { within } from './helpers/wait.js'

const fixture = (name: string) => fixturePath(`tls/${name}`)
const ca = readFileSync(fixture('ca.crt'))
const TLS = `tls:\n  cert: ${fixture('server.crt')}\n  key: ${fixture('server.key')}\n`
const LISTEN = 'listen:\n  mqtt: 0\n  http: 0\n  mqtts: 0\n  https: 0\n'

const f = useApp()
const start = (extra = '') => f.start(`${TLS}${extra}`, { listenYaml: LISTEN })
const mqttsUrl = () => `mqtts://127.0.0.1:${f.app.addresses.mqtts!.port}`
const wssUrl = () => `wss://127.0.0.1:${f.app.addresses.https!.port}/mqtt`

function httpsGet(path: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    get({ host: '127.0.0.1', port: f.app.addresses.https!.port, path, ca, headers }, (res) => {
      let body = ''
      res.on('data', (chunk: Buffer) => (body += chunk.toString()))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }))
    }).on('error', reject)
  })
}

describe('TLS listeners', () => {
  it('carries MQTT over TLS (mqtts) and secure WebSocket (wss) to the same broker as TCP', async () => {
    const t = await start()
    const { client: sub, inbox } = await f.connectWithInbox()
    await sub.subscribeAsync('secure/#', { qos: 1 })
    const overTls = await f.connect(mqttsUrl(), { ca })
    const overWss = await f.connect(wssUrl(), { ca })
    await overTls.publishAsync('secure/tls', 'from mqtts', { qos: 1 })
    await overWss.publishAsync('secure/wss', 'from wss', { qos: 1 })
    await inbox.count(2)
    expect(inbox.messages.map((m) => [m.topic, m.payload]).sort()).toEqual([['secure/tls', 'from mqtts'], ['secure/wss', 'from wss']])

    const metrics = await (await fetch(`${t.httpUrl}/metrics`)).text()
    expect(metrics).toContain('switchyard_mqtt_connections{transport="tls"} 1')
    expect(metrics).toContain('switchyard_mqtt_connections{transport="wss"} 1')
  })

  it('serves the HTTP routes over HTTPS too', async () => {
    await start('admin:\n  token: an-admin-token-for-tests\n')
    expect(await httpsGet('/healthz')).toEqual({ status: 200, body: '{"status":"ok"}' })
    expect((await httpsGet('/')).body).toContain('<html')
    // The admin API keeps its token check on HTTPS.
    expect((await httpsGet('/api/rules')).status).toBe(401)
    expect((await httpsGet('/api/rules', { authorization: 'Bearer an-admin-token-for-tests' })).status).toBe(200)
  })

  it('is a real TLS handshake: a client that does not trust the certificate is refused', async () => {
    await start()
    expect(await f.attempt(mqttsUrl(), {})).toMatch(/self.signed|unable to verify|certificate/i)
  })

  it('asks for client certificates signed by tls.ca when one is given', async () => {
    await start(`  ca: ${fixture('ca.crt')}\n`)
    expect(await f.attempt(mqttsUrl(), { ca })).not.toBe('connected')
    expect(await f.attempt(mqttsUrl(), { ca, cert: readFileSync(fixture('client.crt')), key: readFileSync(fixture('client.key')) })).toBe('connected')
  })

  it('ends a console stream over HTTPS, and closes a request in flight there, when it shuts down', async () => {
    const token = 'an-admin-token-for-tests'
    const t = await start(`admin:\n  token: ${token}\n`)
    const { port } = t.addresses.https!
    // A request whose body never comes: without closing it, the shutdown would wait for the server's request timeout.
    const slow = tlsConnect({ host: '127.0.0.1', port, ca, servername: 'localhost' })
    f.defer(() => slow.destroy())
    await once(slow, 'secureConnect')
    slow.write(`POST /api/rules/test HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nAuthorization: Bearer ${token}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{`)
    const slowClosed = once(slow, 'close')
    // The console's map stream: ended by the server's close, its response ends; cut, it aborts.
    const stream = await new Promise<IncomingMessage>((resolve, reject) => {
      get({ host: '127.0.0.1', port, path: '/api/console/map/stream', ca, headers: { authorization: `Bearer ${token}` } }, resolve).on('error', reject)
    })
    const outcome = new Promise<string>((resolve) => {
      stream.once('end', () => resolve('ended'))
      stream.once('aborted', () => resolve('cut'))
      stream.once('error', (err) => resolve(`cut: ${err.message}`))
    })
    expect(String((await once(stream, 'data'))[0])).toContain('event: map')
    stream.resume()
    await within(t.close(), 10_000, 'the shutdown')
    await slowClosed
    expect(await outcome).toBe('ended')
  })
})

describe('TLS configuration mistakes', () => {
  it('refuses mqtts or https without a certificate, naming the line', () => {
    const yaml = 'listen:\n  mqtt: 0\n  mqtts: 8883\n'
    expect(() => parseConfig(yaml, 'switchyard.yaml')).toThrow(/switchyard\.yaml:3:\d+.*listen\.mqtts.*needs a certificate/)
  })

  it('names the file that cannot be read', async () => {
    await expect(f.start(`tls:\n  cert: ./missing.crt\n  key: ${fixture('server.key')}\n`, { listenYaml: LISTEN }))
      .rejects.toThrow(/cannot read tls\.cert .*missing\.crt: no such file/)
  })

  it('says when the key does not belong to the certificate', async () => {
    await expect(f.start(`tls:\n  cert: ${fixture('server.crt')}\n  key: ${fixture('client.key')}\n`, { listenYaml: LISTEN }))
      .rejects.toThrow(/do not make a usable certificate/)
  })
})
