import { beforeEach, describe, expect, it } from 'vitest'
import type { TestApp } from './helpers/app.js'
import { end, Inbox } from './helpers/mqtt.js'
import { useApp } from './helpers/use-app.js'

const f = useApp()
let t: TestApp
beforeEach(async () => {
  t = await f.start()
})

const json = (payload: string) => JSON.parse(payload) as Record<string, unknown>

describe('lifecycle events', () => {
  it('announces connect, subscribe, unsubscribe and disconnect, over TCP and WebSocket', async () => {
    const watcher = await f.connect(t.wsUrl, { clientId: 'watcher' })
    const inbox = new Inbox(watcher)
    await watcher.subscribeAsync('$events/#', { qos: 1 })

    const before = Date.now()
    const device = await f.connect({ clientId: 'device-1', username: 'dev', password: Buffer.from('x') })
    const connected = json((await inbox.on('$events/presence/connected/device-1')).payload)
    expect(connected).toMatchObject({ clientId: 'device-1', username: 'dev', eventType: 'connected', ipAddress: '127.0.0.1', transport: 'tcp' })
    expect(connected.timestamp as number).toBeGreaterThanOrEqual(before)

    await device.subscribeAsync(['sensors/+', 'alerts/#'], { qos: 1 })
    const subscribed = json((await inbox.on('$events/subscriptions/subscribed/device-1')).payload)
    expect(subscribed).toMatchObject({ clientId: 'device-1', eventType: 'subscribed', topics: ['sensors/+', 'alerts/#'] })

    await device.unsubscribeAsync('alerts/#')
    const unsubscribed = json((await inbox.on('$events/subscriptions/unsubscribed/device-1')).payload)
    expect(unsubscribed).toMatchObject({ clientId: 'device-1', eventType: 'unsubscribed', topics: ['alerts/#'] })

    await end(device)
    const gone = json((await inbox.on('$events/presence/disconnected/device-1')).payload)
    expect(gone).toMatchObject({
      clientId: 'device-1',
      username: 'dev',
      eventType: 'disconnected',
      disconnectReason: 'CLIENT_INITIATED_DISCONNECT',
      clientInitiatedDisconnect: true,
      ipAddress: '127.0.0.1',
    })

    const browser = await f.connect(t.wsUrl, { clientId: 'browser-1' })
    expect(json((await inbox.on('$events/presence/connected/browser-1')).payload)).toMatchObject({ transport: 'ws', ipAddress: '127.0.0.1' })
    browser.stream.destroy()
    expect(json((await inbox.on('$events/presence/disconnected/browser-1')).payload)).toMatchObject({
      disconnectReason: 'CONNECTION_LOST',
      clientInitiatedDisconnect: false,
    })
  })

  it('says when a session was taken over by a new connection with the same client id', async () => {
    const watcher = await f.connect()
    const inbox = new Inbox(watcher)
    await watcher.subscribeAsync('$events/presence/disconnected/+', { qos: 1 })
    await f.connect({ clientId: 'twin' })
    await f.connect({ clientId: 'twin' })
    expect(json((await inbox.on('$events/presence/disconnected/twin')).payload)).toMatchObject({ disconnectReason: 'DUPLICATE_CLIENTID' })
  })
})
