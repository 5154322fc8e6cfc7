import type { MqttClient } from 'mqtt'
import { describe, expect, it } from 'vitest'
import { hashPassword } from '../src/broker/passwords.js'
import { metric } from './helpers/metrics.js'
import type { Inbox } from './helpers/mqtt.js'
import { useApp } from './helpers/use-app.js'

// limits.sessionExpiry: a persistent session whose client stays away longer
// than that is removed, with its subscriptions and queue, and its client id
// and place are freed (Aedes keeps such a session, and queues for it,
// forever: aedes#599).

const f = useApp()
const EXPIRES = 'limits:\n  sessionExpiry: 1s\n'

/** A client that hears every $events/sessions/expired event of the app started last. */
async function watchExpiries(url?: string): Promise<Inbox> {
  const { client, inbox } = url ? await f.connectWithInbox(url, { clientId: 'watcher' }) : await f.connectWithInbox({ clientId: 'watcher' })
  await client.subscribeAsync('$events/sessions/expired/+', { qos: 1 })
  return inbox
}

/** A persistent session subscribed at QoS 1 to `topic`, whose client then leaves. */
async function leaveSession(clientId: string, topic: string, url?: string, auth: { username?: string; password?: string } = {}): Promise<void> {
  const options = { clientId, clean: false, ...auth }
  const client: MqttClient = url ? await f.connect(url, options) : await f.connect(options)
  await client.subscribeAsync(topic, { qos: 1 })
  await client.endAsync()
}

async function expiredEvent(events: Inbox, clientId: string): Promise<Record<string, unknown>> {
  return JSON.parse((await events.on(`$events/sessions/expired/${clientId}`, 10_000)).payload) as Record<string, unknown>
}

describe('limits.sessionExpiry', () => {
  it('removes a persistent session whose client stayed away: its subscriptions go, nothing more is queued, and it comes back to no session', async () => {
    await f.start(EXPIRES)
    expect(await f.metric('switchyard_sessions_expired_total')).toBe(0)
    const events = await watchExpiries()
    const leaving = Date.now()
    await leaveSession('dev-1', 'news/#')

    const event = await expiredEvent(events, 'dev-1')
    expect(event).toMatchObject({ clientId: 'dev-1', username: null, eventType: 'expired', expiry: 1000, node: expect.any(String) })
    expect(event.disconnectedAt).toBeGreaterThanOrEqual(leaving)
    expect((event.timestamp as number) - (event.disconnectedAt as number)).toBeGreaterThanOrEqual(1000)
    expect(await f.metric('switchyard_sessions_expired_total')).toBe(1)

    const publisher = await f.connect({ clientId: 'publisher' })
    await publisher.publishAsync('news/today', 'after the session expired', { qos: 1 })
    const { inbox, connack } = await f.connectWithInbox({ clientId: 'dev-1', clean: false })
    expect(connack.sessionPresent).toBe(false)
    await inbox.flush()
    expect(inbox.messages).toEqual([])
  })

  it('counts from the end of a connection over WebSocket too', async () => {
    await f.start(EXPIRES)
    const events = await watchExpiries()
    await leaveSession('browser', 'chat/#', f.app.wsUrl)
    expect(await expiredEvent(events, 'browser')).toMatchObject({ clientId: 'browser', eventType: 'expired' })
    const { connack } = await f.connectWithInbox(f.app.wsUrl, { clientId: 'browser', clean: false })
    expect(connack.sessionPresent).toBe(false)
  })

  it('keeps a session whose client reconnected before its expiry, or took its own connection over, and comes back to it', async () => {
    await f.start(EXPIRES)
    const events = await watchExpiries()
    await leaveSession('returns', 'returns/#')
    const { client: back, inbox, connack } = await f.connectWithInbox({ clientId: 'returns', clean: false })
    expect(connack.sessionPresent).toBe(true)
    // The first connection ends after the second took the session over [MQTT-3.1.4-2].
    const first = await f.connect({ clientId: 'twice', clean: false })
    await first.subscribeAsync('twice/#', { qos: 1 })
    const firstClosed = new Promise<void>((resolve) => first.once('close', () => resolve()))
    const second = await f.connectWithInbox({ clientId: 'twice', clean: false })
    await firstClosed
    // A session that left after it came back expires: by then, one that had not come back would have too.
    await leaveSession('control', 'control/#')
    await expiredEvent(events, 'control')
    expect(events.messages.map((m) => m.topic)).toEqual(['$events/sessions/expired/control'])

    const publisher = await f.connect({ clientId: 'publisher' })
    await publisher.publishAsync('returns/live', 'while connected', { qos: 1 })
    expect((await inbox.on('returns/live')).payload).toBe('while connected')
    await publisher.publishAsync('twice/live', 'to the second', { qos: 1 })
    expect((await second.inbox.on('twice/live')).payload).toBe('to the second')
    await back.endAsync()
    await publisher.publishAsync('returns/queued', 'while away', { qos: 1 })
    const again = await f.connectWithInbox({ clientId: 'returns', clean: false })
    expect(again.connack.sessionPresent).toBe(true)
    expect((await again.inbox.on('returns/queued')).payload).toBe('while away')
  })

  it('keeps every session with sessionExpiry: never', async () => {
    const keeper = await f.start('limits:\n  sessionExpiry: never\n')
    await leaveSession('kept', 'kept/#', keeper.mqttUrl)
    const publisher = await f.connect(keeper.mqttUrl, { clientId: 'publisher' })
    await publisher.publishAsync('kept/1', 'queued', { qos: 1 })
    // An app that expires after 1s, beside it: once its session is gone, the other would have gone too.
    const control = await f.start(EXPIRES)
    const events = await watchExpiries(control.mqttUrl)
    await leaveSession('control', 'control/#', control.mqttUrl)
    await expiredEvent(events, 'control')

    const { inbox, connack } = await f.connectWithInbox(keeper.mqttUrl, { clientId: 'kept', clean: false })
    expect(connack.sessionPresent).toBe(true)
    expect((await inbox.on('kept/1')).payload).toBe('queued')
    expect(await metric(keeper.httpUrl, 'switchyard_sessions_expired_total')).toBe(0)
  })

  it('frees the client id for another user and the place among its user\'s persistent sessions', async () => {
    const hash = await hashPassword('pw')
    await f.start(`auth:\n  users: [ { username: alice, password: '${hash}' }, { username: bob, password: '${hash}' } ]\nlimits:\n  sessionExpiry: 2s\n  sessions:\n    maxPerUser: 1\n`)
    const alice = { username: 'alice', password: 'pw' }
    const bob = { username: 'bob', password: 'pw' }
    const events = await f.connectWithInbox({ clientId: 'watcher', ...alice })
    await events.client.subscribeAsync('$events/sessions/expired/+', { qos: 1 })
    await leaveSession('alice-phone', 'alice/#', undefined, alice)
    expect(await f.attempt({ clientId: 'alice-phone', clean: false, ...bob })).toMatch(/Not authorized/)
    expect(await f.attempt({ clientId: 'alice-tablet', clean: false, ...alice })).toMatch(/Not authorized/)

    expect(await expiredEvent(events.inbox, 'alice-phone')).toMatchObject({ clientId: 'alice-phone', username: 'alice' })
    expect(await f.attempt({ clientId: 'alice-tablet', clean: false, ...alice })).toBe('connected')
    expect(await f.attempt({ clientId: 'alice-phone', clean: false, ...bob })).toBe('connected')
  })
})
