import { SignJWT } from 'jose'
import { describe, expect, it } from 'vitest'
import { Inbox } from '../helpers/mqtt.js'
import { useApp } from '../helpers/use-app.js'

// A client id belongs to the user who made its session: another
// authenticated user may not take it over.

const SECRET = 'a-jwt-secret-of-at-least-32-characters!!'
const token = (sub: string) =>
  new SignJWT({ sub }).setProtectedHeader({ alg: 'HS256' }).setIssuedAt().setExpirationTime('1h').sign(new TextEncoder().encode(SECRET))
const as = async (user: string) => ({ username: user, password: await token(user) })

const f = useApp()
const pause = (ms: number) => new Promise((r) => setTimeout(r, ms))

const CONFIG = `
auth:
  jwt: { secret: '${SECRET}' }
acl:
  - { allow: all, topics: ['\${username}/#', 'wills/#', 'flush/#'] }  # flush/: the test inbox's own marker
  - { deny: all }
`

describe('a client id belongs to its user', () => {
  it('refuses another user the persistent session of a client id: no queued message, no will, no kick', async () => {
    await f.start(CONFIG)
    const owner = await f.connect({ clientId: 'alice-phone', clean: false, ...(await as('alice')) })
    await owner.subscribeAsync('alice/secret', { qos: 1 })
    await owner.endAsync()
    const sender = await f.connect({ clientId: 'alice-laptop', ...(await as('alice')) })
    await sender.publishAsync('alice/secret', 'for alice only', { qos: 1 })

    // Mallory is a user too, whose own ACL would not let him read alice/secret.
    expect(await f.attempt({ clientId: 'alice-phone', clean: false, ...(await as('mallory')) })).toMatch(/Not authorized/)
    expect(await f.attempt({ clientId: 'alice-phone', clean: true, ...(await as('mallory')) })).toMatch(/Not authorized/)

    const back = await f.connect({ clientId: 'alice-phone', clean: false, ...(await as('alice')) })
    const inbox = new Inbox(back)
    expect((await inbox.on('alice/secret')).payload).toBe('for alice only')
  })

  it('keeps the owner of a live connection connected, and its will unsent, when another user tries its client id', async () => {
    await f.start(CONFIG)
    const watcher = await f.connect({ clientId: 'alice-watch', ...(await as('alice')) })
    const wills = new Inbox(watcher)
    await watcher.subscribeAsync('wills/#', { qos: 1 })
    const owner = await f.connect({ clientId: 'alice-tab', ...(await as('alice')), will: { topic: 'wills/alice-tab', payload: Buffer.from('gone'), qos: 1, retain: false } })
    expect(await f.attempt({ clientId: 'alice-tab', ...(await as('mallory')) })).toMatch(/Not authorized/)
    await pause(300)
    expect(owner.connected).toBe(true)
    await wills.flush()
    expect(wills.messages).toEqual([])
    const metrics = await (await fetch(`${f.app.httpUrl}/metrics`)).text()
    expect(metrics).toContain('switchyard_connections_refused_total{reason="session_owner"} 1')
  })

  it('lets the same user take its own session over, and frees a clean session\'s client id when it ends', async () => {
    await f.start(CONFIG)
    const first = await f.connect({ clientId: 'shared-id', ...(await as('alice')) })
    const closed = new Promise<void>((r) => first.once('close', () => r()))
    const second = await f.connect({ clientId: 'shared-id', ...(await as('alice')) })
    await closed
    await second.endAsync()
    await pause(100)
    expect(await f.attempt({ clientId: 'shared-id', ...(await as('bob')) })).toBe('connected')
  })

  it('keeps an anonymous client from the session of a user, and a user from an anonymous client\'s', async () => {
    await f.start(`
auth:
  anonymous: true
  jwt: { secret: '${SECRET}' }
`)
    const owner = await f.connect({ clientId: 'alice-box', clean: false, ...(await as('alice')) })
    await owner.endAsync()
    expect(await f.attempt({ clientId: 'alice-box', clean: false })).toMatch(/Not authorized/)
    const anonymous = await f.connect({ clientId: 'kiosk', clean: false })
    await anonymous.endAsync()
    expect(await f.attempt({ clientId: 'kiosk', clean: false, ...(await as('alice')) })).toMatch(/Not authorized/)
    expect(await f.attempt({ clientId: 'kiosk', clean: false })).toBe('connected')
  })
})

describe('connect entries of the ACL', () => {
  const RESTRICTED = `
auth:
  jwt: { secret: '${SECRET}' }
acl:
  - { allow: connect, clientIds: ['*'], users: [ops], takeover: true }
  - { allow: connect, clientIds: ['\${username}', '\${username}-*'] }
  - { allow: all, topics: ['#'] }
`
  it('let a user connect only with the client ids its patterns allow', async () => {
    await f.start(RESTRICTED)
    expect(await f.attempt({ clientId: 'alice', ...(await as('alice')) })).toBe('connected')
    expect(await f.attempt({ clientId: 'alice-7', ...(await as('alice')) })).toBe('connected')
    expect(await f.attempt({ clientId: 'bob-7', ...(await as('alice')) })).toMatch(/Not authorized/)
    expect(await f.attempt({ clientId: 'alicex', ...(await as('alice')) })).toMatch(/Not authorized/)
    const metrics = await (await fetch(`${f.app.httpUrl}/metrics`)).text()
    expect(metrics).toContain('switchyard_connections_refused_total{reason="client_id"} 2')
  })

  it('let a user named in an entry with takeover: true take another user\'s session over', async () => {
    await f.start(RESTRICTED)
    const owner = await f.connect({ clientId: 'alice-1', ...(await as('alice')) })
    const closed = new Promise<void>((r) => owner.once('close', () => r()))
    expect(await f.attempt({ clientId: 'alice-1', ...(await as('ops')) })).toBe('connected')
    await closed
  })

  it('are checked as whole client ids, with the username\'s characters taken literally', async () => {
    const { matches } = await import('../../src/broker/client-id-rules.js')
    expect(matches('${username}-*', 'a.b-1', 'a.b')).toBe(true)
    expect(matches('${username}-*', 'axb-1', 'a.b')).toBe(false)
    expect(matches('chat-${username}-*', 'chat-u1-x', undefined)).toBe(false)
    expect(matches('fixed', 'fixed', undefined)).toBe(true)
    expect(matches('fixed', 'fixed2', undefined)).toBe(false)
  })
})
