import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { SignJWT } from 'jose'
import type { MqttClient } from 'mqtt'
import { describe, expect, it } from 'vitest'
import { covers } from '../src/broker/acl.js'
import { verifyPassword } from '../src/broker/passwords.js'
import { Inbox } from './helpers/mqtt.js'
import { useApp } from './helpers/use-app.js'

const BIN = fileURLToPath(new URL('../bin/switchyard.js', import.meta.url))
const SECRET = 'a-jwt-secret-of-at-least-32-characters!!'
const hash = spawnSync(process.execPath, [BIN, 'passwd'], { input: 'alice-pw\n', encoding: 'utf8' }).stdout.trim()

const f = useApp()
/** What the broker granted each filter (MQTT.js rejects a SUBACK with a refusal, and keeps the packet). */
async function grants(c: MqttClient, topics: string[]): Promise<Array<[string, number]>> {
  try {
    const granted = await c.subscribeAsync(topics, { qos: 1 })
    return granted.map((g) => [g.topic, g.qos])
  } catch (err) {
    const codes = (err as { packet?: { granted: number[] } }).packet?.granted
    if (!codes) throw err
    return topics.map((topic, i) => [topic, codes[i]!])
  }
}
const token = (claims: Record<string, unknown>, expires = '1h', secret = SECRET) =>
  new SignJWT(claims).setProtectedHeader({ alg: 'HS256' }).setIssuedAt().setExpirationTime(expires).sign(new TextEncoder().encode(secret))

const CONFIG = `
auth:
  users: [ { username: alice, password: '${hash}' } ]
  jwt: { secret: '${SECRET}' }
acl:
  - { allow: subscribe, topics: ['chat/in/\${clientid}', 'chat/pub/+', '$events/presence/+/+'] }
  - { allow: publish, topics: ['chat/out'] }
  - { deny: all }
`

describe('authentication', () => {
  it('prints password hashes that verify', async () => {
    expect(hash).toMatch(/^scrypt\$/)
    expect(await verifyPassword('alice-pw', hash)).toBe(true)
    expect(await verifyPassword('wrong', hash)).toBe(false)
  })

  it('accepts the right password and refuses a wrong one, an unknown user and anonymous clients', async () => {
    const t = await f.start(CONFIG)
    expect(await f.attempt({ username: 'alice', password: 'alice-pw' })).toBe('connected')
    expect(await f.attempt({ username: 'alice', password: 'nope' })).toMatch(/Bad username or password/)
    expect(await f.attempt({ username: 'mallory', password: 'x' })).toMatch(/Bad username or password/)
    expect(await f.attempt({})).toMatch(/Bad username or password/)
    const metrics = await (await fetch(`${t.httpUrl}/metrics`)).text()
    expect(metrics).toContain('switchyard_connections_refused_total{reason="credentials"} 3')
  })

  it('accepts a valid token as the password, with the username from its subject, and refuses an expired or forged one', async () => {
    const t = await f.start(CONFIG)
    const watcher = await f.connect({ username: 'alice', password: 'alice-pw', clientId: 'watcher' })
    const inbox = new Inbox(watcher)
    await watcher.subscribeAsync('$events/presence/+/+', { qos: 1 })
    // MQTT 3.1.1 allows a password only with a username: browsers send any username with the token.
    expect(await f.attempt({ clientId: 'browser-1', username: 'token', password: await token({ sub: 'bob' }) })).toBe('connected')
    expect(JSON.parse((await inbox.on('$events/presence/connected/browser-1')).payload).username).toBe('bob')
    expect(await f.attempt({ username: 'token', password: await token({ sub: 'bob' }, '-1m') })).toMatch(/Bad username or password/)
    expect(await f.attempt({ username: 'token', password: await token({ sub: 'bob' }, '1h', 'another-secret-that-is-32-characters-long') })).toMatch(/Bad username or password/)
    const metrics = await (await fetch(`${t.httpUrl}/metrics`)).text()
    expect(metrics).toContain('switchyard_connections_refused_total{reason="token"} 2')
  })
})

describe('the ACL', () => {
  it('keeps a client to its own inbox and to chat/out', async () => {
    const t = await f.start(CONFIG)
    const me = await f.connect({ clientId: 'me', username: 'alice', password: 'alice-pw' })
    expect(await grants(me, ['chat/in/me', 'chat/in/other', 'chat/pub/lobby', 'chat/pub/#', '$events/#', '#'])).toEqual([
      ['chat/in/me', 1], ['chat/in/other', 128], ['chat/pub/lobby', 1], ['chat/pub/#', 128], ['$events/#', 128], ['#', 128],
    ])
    await me.publishAsync('chat/out', '{}', { qos: 1 })
    expect(me.connected).toBe(true)

    // A denied publish is acknowledged, not delivered (acl.deniedPublish: drop, the default; see mqtt-conformance.test.ts).
    await me.publishAsync('chat/pub/lobby', 'forged', { qos: 1 })
    expect(me.connected).toBe(true)
    const metrics = await (await fetch(`${t.httpUrl}/metrics`)).text()
    expect(metrics).toContain('switchyard_acl_denied_total{action="publish"} 1')
  })

  it('does not let a client id with wildcards widen its inbox', async () => {
    await f.start(CONFIG)
    // Such a client id is refused before it could name an inbox: CONNACK 2.
    expect(await f.attempt({ clientId: '#', username: 'alice', password: 'alice-pw' })).toMatch(/Identifier rejected/)
    expect(await f.attempt({ clientId: 'chat+', username: 'alice', password: 'alice-pw' })).toMatch(/Identifier rejected/)
  })

  it('covers filters only when every topic they match is covered', () => {
    expect(covers('chat/pub/+', 'chat/pub/lobby', 'subscribe')).toBe(true)
    expect(covers('chat/pub/+', 'chat/pub/+', 'subscribe')).toBe(true)
    expect(covers('chat/pub/+', 'chat/pub/#', 'subscribe')).toBe(false)
    expect(covers('chat/#', 'chat/pub/+', 'subscribe')).toBe(true)
    expect(covers('#', '$events/x', 'subscribe')).toBe(false)
    expect(covers('$events/#', '$events/presence/+/+', 'subscribe')).toBe(true)
    expect(covers('chat/+', 'chat/a', 'publish')).toBe(true)
    expect(covers('chat/+', 'chat/a/b', 'publish')).toBe(false)
  })
})
