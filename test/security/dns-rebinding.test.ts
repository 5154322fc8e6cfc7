import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { parseConfig } from '../../src/config/load.js'
import { httpRequest, rawHttp, wsUpgrade } from '../helpers/http-request.js'
import { useApp } from '../helpers/use-app.js'

// DNS rebinding: a page at http://evil.example:PORT/ has its name answered
// first with the attacker's address, then with 127.0.0.1. To the browser the
// page and the broker are then one origin, so it sends what these tests send:
// `Host: evil.example:PORT` and `Origin: http://evil.example:PORT`. Only the
// Host header tells the broker the page is not one of its own.

const TOKEN = 'rebinding-test-admin-token'
const f = useApp({ adminToken: TOKEN })

const port = () => f.app.addresses.http.port
const refusals = async () => (await f.metric('switchyard_limit_exceeded_total{limit="host"}')) ?? 0

describe('the Host check', () => {
  it('refuses a WebSocket upgrade from a rebound page, on the default config', async () => {
    await f.start()
    const evil = `evil.example:${port()}`
    const answer = await wsUpgrade(port(), { Host: evil, Origin: `http://${evil}` })
    expect(answer.status).toBe(421)
    expect(answer).toMatchObject({ body: expect.stringContaining('limits.allowedHosts') })
    // A client that sends no Origin (not a browser) gets no further with that Host.
    expect((await wsUpgrade(port(), { Host: evil })).status).toBe(421)
    expect(await refusals()).toBe(2)
  })

  it('refuses HTTP requests from a rebound page: the chat, /metrics, /healthz and the API', async () => {
    await f.start()
    const evil = `evil.example:${port()}`
    const headers = { Host: evil, Origin: `http://${evil}` }
    for (const path of ['/', '/lobby', '/metrics', '/healthz', '/vendor/mqtt/mqtt.esm.js']) {
      const answer = await httpRequest(port(), path, { headers })
      expect(answer.status, path).toBe(421)
      expect(JSON.parse(answer.body).error, path).toMatch(/evil\.example.*limits\.allowedHosts/)
    }
    // The token does not make up for the name: the check comes first.
    const api = await httpRequest(port(), '/api/rules', { headers: { ...headers, Authorization: `Bearer ${TOKEN}` } })
    expect(api.status).toBe(421)
    // Names that merely start or end like an allowed one are other names.
    for (const host of [`localhost.evil.example:${port()}`, `evil-localhost:${port()}`, `127.0.0.1.evil.example:${port()}`]) {
      expect((await httpRequest(port(), '/', { headers: { Host: host } })).status, host).toBe(421)
    }
  })

  it('serves localhost and IP addresses, and takes the page\'s own origin from them', async () => {
    await f.start()
    for (const host of [`127.0.0.1:${port()}`, `localhost:${port()}`, `LocalHost:${port()}`, `[::1]:${port()}`, `localhost`]) {
      expect((await httpRequest(port(), '/', { headers: { Host: host } })).status, host).toBe(200)
    }
    for (const host of [`127.0.0.1:${port()}`, `localhost:${port()}`]) {
      expect((await wsUpgrade(port(), { Host: host, Origin: `http://${host}` })).status, host).toBe('open')
    }
    // An allowed Host with a page of another site is still another site's page.
    expect((await wsUpgrade(port(), { Host: `localhost:${port()}`, Origin: 'http://evil.example' })).status).toBe(403)
    expect(await refusals()).toBe(0)
  })

  it('serves requests without a Host header, as HTTP/1.0 health checks send them', async () => {
    await f.start()
    const answer = await rawHttp(port(), 'GET /healthz HTTP/1.0\r\n\r\n')
    expect(answer.status).toBe(200)
    expect(answer.text).toContain('"status":"ok"')
  })

  it('serves the names listed in limits.allowedHosts, a domain with its subdomains, and any name with "*"', async () => {
    await f.start('limits:\n  allowedHosts: [ chat.example.com, .example.org ]\n')
    for (const name of ['chat.example.com', 'CHAT.example.com', 'example.org', 'eu.chat.example.org']) {
      const host = `${name}:${port()}`
      expect((await httpRequest(port(), '/', { headers: { Host: host } })).status, host).toBe(200)
      expect((await wsUpgrade(port(), { Host: host, Origin: `http://${host.toLowerCase()}` })).status, host).toBe('open')
    }
    for (const name of ['evil.example', 'chat.example.com.evil.example', 'badexample.org']) {
      expect((await httpRequest(port(), '/', { headers: { Host: `${name}:${port()}` } })).status, name).toBe(421)
    }
    await f.app.close()

    await f.start('limits:\n  allowedHosts: [ "*" ]\n')
    const evil = `evil.example:${port()}`
    expect((await httpRequest(port(), '/', { headers: { Host: evil } })).status).toBe(200)
    expect((await wsUpgrade(port(), { Host: evil, Origin: `http://${evil}` })).status).toBe('open')
  })

  it('refuses a name from the next request once a reload takes it out of limits.allowedHosts', async () => {
    const t = await f.start('limits:\n  allowedHosts: [ chat.example.com ]\n')
    const host = `chat.example.com:${port()}`
    for (let i = 0; i < 3; i++) expect((await httpRequest(port(), '/', { headers: { Host: host } })).status).toBe(200)
    const file = join(t.dir, 'switchyard.yaml')
    writeFileSync(file, readFileSync(file, 'utf8').replace('allowedHosts: [ chat.example.com ]', 'allowedHosts: [ chat.example.org ]'))
    expect(t.app.reload().ok).toBe(true)
    expect((await httpRequest(port(), '/', { headers: { Host: host } })).status).toBe(421)
    expect((await wsUpgrade(port(), { Host: host, Origin: `http://${host}` })).status).toBe(421)
    expect((await httpRequest(port(), '/', { headers: { Host: `chat.example.org:${port()}` } })).status).toBe(200)
  })

  it('warns at start when HTTP listens beyond loopback and no allowedHosts are set', async () => {
    const t = await f.start('', { listenYaml: 'listen:\n  mqtt: 0\n  http: "0.0.0.0:0"\n', captureLogs: true })
    const warning = t.logs.find((line) => line.level === 40 && /limits\.allowedHosts/.test(line.msg))
    expect(warning?.msg).toMatch(/0\.0\.0\.0/)
    await f.app.close()

    const quiet = await f.start('limits:\n  allowedHosts: [ chat.example.com ]\n', { listenYaml: 'listen:\n  mqtt: 0\n  http: "0.0.0.0:0"\n', captureLogs: true })
    expect(quiet.logs.filter((line) => /limits\.allowedHosts/.test(line.msg))).toEqual([])
  })

  it('refuses entries that are not host names, naming the line', () => {
    expect(() => parseConfig('limits:\n  allowedHosts:\n    - "https://chat.example.com"\n', 'x.yaml')).toThrow(/^x\.yaml:3:\d+: limits\.allowedHosts\[0\] must be/)
    expect(() => parseConfig('limits:\n  allowedHosts: [ "chat.example.com:8080" ]\n', 'x.yaml')).toThrow(/^x\.yaml:2:\d+: limits\.allowedHosts\[0\] must be/)
  })
})
