import { readFileSync } from 'node:fs'
import { get } from 'node:https'
import { describe, expect, it } from 'vitest'
import { parseConfig } from '../src/config/load.js'
import { fixturePath } from './helpers/fixtures.js'
import { useApp } from './helpers/use-app.js'

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
