import { describe, expect, it } from 'vitest'
import { RawClient } from './helpers/raw-client.js'
import { useApp } from './helpers/use-app.js'

// MQTT 3.1.1 points that the Eclipse Paho interoperability suite checks,
// driven with raw packets.

const f = useApp()

describe('a zero-length client id', () => {
  it('is refused with CONNACK 2 when the client asks to keep its session [MQTT-3.1.3-8]', async () => {
    const app = await f.start()
    const raw = await RawClient.open(Number(new URL(app.mqttUrl).port))
    f.defer(() => raw.drop())
    // mqtt-packet will not encode this CONNECT: "MQTT", level 4, flags 0 (CleanSession=0), keep-alive 60, client id of length 0.
    raw.write(Buffer.from([0x10, 12, 0, 4, 0x4d, 0x51, 0x54, 0x54, 4, 0x00, 0, 60, 0, 0]))
    const connack = await raw.next((p) => p.cmd === 'connack') as { returnCode: number }
    expect(connack.returnCode).toBe(2)
    await raw.closed
    const metrics = await (await fetch(`${app.httpUrl}/metrics`)).text()
    expect(metrics).toContain('switchyard_connections_refused_total{reason="client_id"} 1')
  })

  it('gets a clean session of its own when it asks for one [MQTT-3.1.3-6]', async () => {
    const app = await f.start()
    const raw = await RawClient.connect(Number(new URL(app.mqttUrl).port), { clientId: '', clean: true })
    f.defer(() => raw.drop())
    const connack = await raw.next((p) => p.cmd === 'connack') as { returnCode: number; sessionPresent: boolean }
    expect([connack.returnCode, connack.sessionPresent]).toEqual([0, false])
  })
})
