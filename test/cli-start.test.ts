import { describe, expect, it } from 'vitest'
import { useApp } from './helpers/use-app.js'
import { waitUntil } from './helpers/wait.js'

const f = useApp()

describe('switchyard start', () => {
  it('says in one line, on stderr, where the chat and the MQTT listeners are, and keeps stdout JSON', async () => {
    const config = f.writeConfig('listen:\n  mqtt: 0\n  http: 0\nstorage:\n  sqlite: ./switchyard.db\n')
    const child = await f.startChild(config)
    const { mqttPort, httpPort } = child
    const line = await waitUntil(() => child.stderr(), { until: (text) => text.includes('\n'), what: 'a line on stderr' })
    expect(line).toBe(`Switchyard is running: chat http://127.0.0.1:${httpPort}/ · MQTT mqtt://127.0.0.1:${mqttPort} · WebSocket ws://127.0.0.1:${httpPort}/mqtt\n`)
    // The chat URL it names answers with the page.
    const page = await fetch(`http://127.0.0.1:${httpPort}/`)
    expect(page.status).toBe(200)
    expect(await page.text()).toContain('<title>Switchyard chat</title>')

    await child.kill('SIGTERM')
    expect(child.logs.filter((entry) => 'raw' in entry)).toEqual([])
    expect(child.logs.map((entry) => entry.msg)).toContain('Switchyard started')
  })

  it('names loopback for a listener on every interface: the address a browser on this machine opens', async () => {
    const config = f.writeConfig('listen:\n  mqtt: "0.0.0.0:0"\n  http: "0.0.0.0:0"\nstorage:\n  sqlite: ":memory:"\n')
    const child = await f.startChild(config)
    const line = await waitUntil(() => child.stderr(), { until: (text) => text.includes('\n'), what: 'a line on stderr' })
    expect(line).toContain(`chat http://127.0.0.1:${child.httpPort}/ · MQTT mqtt://127.0.0.1:${child.mqttPort} `)
  })
})
