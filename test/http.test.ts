import { beforeEach, describe, expect, it } from 'vitest'
import type { TestApp } from './helpers/app.js'
import { sampleOf } from './helpers/metrics.js'
import { useApp } from './helpers/use-app.js'

const f = useApp()
let t: TestApp
beforeEach(async () => {
  t = await f.start()
})

describe('HTTP', () => {
  it('answers /healthz once broker and store are ready', async () => {
    const res = await fetch(`${t.httpUrl}/healthz`)
    expect(res.status).toBe(200)
    expect(await res.json()).toEqual({ status: 'ok' })
  })

  it('serves the web client', async () => {
    const res = await fetch(`${t.httpUrl}/`)
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toMatch(/text\/html/)
  })

  it('serves the web client at any one-level path (a chat room), and 404 elsewhere', async () => {
    const room = await fetch(`${t.httpUrl}/team-blue`)
    expect(room.status).toBe(200)
    expect(room.headers.get('content-type')).toMatch(/text\/html/)
    expect((await fetch(`${t.httpUrl}/a/b`)).status).toBe(404)
    expect((await fetch(`${t.httpUrl}/api/nothing`)).status).toBe(403) // no admin.token: the API is closed
  })

  it('serves the web client for a room as people type it: spaces, accents, any length; never for the server\'s own paths', async () => {
    for (const path of ['/Team%20Blue', '/caf%C3%A9', `/${'a'.repeat(65)}`, '/Team%20Blue?x=1', '/a%2Fb', '/v1.2', '/team-blue/']) {
      const res = await fetch(`${t.httpUrl}${path}`)
      expect([path, res.status, res.headers.get('content-type')]).toEqual([path, 200, expect.stringMatching(/text\/html/)])
      expect(await res.text()).toContain('<title>Switchyard chat</title>')
    }
    const head = await fetch(`${t.httpUrl}/Team%20Blue`, { method: 'HEAD' })
    expect(head.status).toBe(200)
    // /console is the console's page (see console-browser.test.ts), never a room.
    const consolePage = await fetch(`${t.httpUrl}/console`)
    expect(await consolePage.text()).toContain('<title>Switchyard console</title>')
    for (const path of ['/api', '/mqtt', '/auth', '/a/b', '/mqtt/']) {
      const res = await fetch(`${t.httpUrl}${path}`)
      expect([path, res.status]).toEqual([path, 404])
      expect(await res.json()).toEqual({ error: `GET ${path} is not here` })
    }
    expect((await fetch(`${t.httpUrl}/Team%20Blue`, { method: 'POST' })).status).toBe(404)
    // A file that exists is that file.
    const icon = await fetch(`${t.httpUrl}/favicon.svg`)
    expect(icon.headers.get('content-type')).toMatch(/svg/)
  })

  it('refuses WebSocket upgrades outside /mqtt', async () => {
    const { WebSocket } = await import('ws')
    const ws = new WebSocket(`${t.httpUrl.replace('http', 'ws')}/other`, 'mqtt')
    const error = await new Promise<Error>((resolve) => ws.once('error', resolve))
    expect(error.message).toMatch(/404/)
  })

  it('exposes Prometheus metrics: connections by transport, messages, bytes, store latency', async () => {
    const tcp = await f.connect()
    const ws = await f.connect(t.wsUrl)
    await ws.subscribeAsync('m/#', { qos: 1 })
    const got = new Promise((r) => ws.once('message', r))
    await tcp.publishAsync('m/1', 'hello', { qos: 1 })
    await got
    // A retained message is written to the store; the calls above, for clean
    // sessions only, touched no row and are left out of the store latency.
    await tcp.publishAsync('kept/1', 'hello', { qos: 1, retain: true })

    const text = await (await fetch(`${t.httpUrl}/metrics`)).text()
    const value = (line: string) => {
      const match = text.split('\n').find((l) => l.startsWith(line + ' '))
      return match === undefined ? undefined : Number(match.slice(line.length + 1))
    }
    expect(value('switchyard_mqtt_connections{transport="tcp"}')).toBe(1)
    expect(value('switchyard_mqtt_connections{transport="ws"}')).toBe(1)
    expect(value('switchyard_mqtt_messages_in_total')).toBeGreaterThanOrEqual(1)
    expect(value('switchyard_mqtt_messages_out_total')).toBeGreaterThanOrEqual(1)
    expect(value('switchyard_mqtt_bytes_in_total')).toBeGreaterThan(0)
    expect(value('switchyard_mqtt_bytes_out_total')).toBeGreaterThan(0)
    expect(value('switchyard_store_operation_seconds_count{op="storeRetained"}')).toBe(1)
    expect(value('switchyard_store_operation_seconds_count{op="outgoingClearMessageId"}')).toBe(0)
    expect(text).toContain('switchyard_process_resident_memory_bytes')
  })

  it('lists the counters the README names at 0 from the start, each documented label value included', async () => {
    const text = await (await fetch(`${t.httpUrl}/metrics`)).text()
    const reasons = ['credentials', 'token', 'throttled', 'busy', 'client_id', 'session_owner', 'unavailable']
    for (const series of [
      'switchyard_acl_denied_total{action="publish"}',
      'switchyard_acl_denied_total{action="subscribe"}',
      ...reasons.map((reason) => `switchyard_connections_refused_total{reason="${reason}"}`),
      'switchyard_limit_exceeded_total{limit="connections"}',
      'switchyard_session_messages_dropped_total{limit="session_messages"}',
      'switchyard_store_write_errors_total{code="SQLITE_FULL"}',
      'switchyard_mqtt_messages_dropped_total',
    ]) expect(sampleOf(text, series), series).toBe(0)
  })
})

describe('MQTT.js for browsers', () => {
  it('is served by Switchyard itself', async () => {
    const res = await fetch(`${t.httpUrl}/vendor/mqtt/mqtt.esm.js`)
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toMatch(/javascript/)
    expect((await res.text()).length).toBeGreaterThan(10_000)
    expect((await fetch(`${t.httpUrl}/vendor/mqtt/package.json`)).status).toBe(404)
  })
})
