import { SignJWT, type JWTPayload } from 'jose'
import { describe, expect, it } from 'vitest'
import { parseConfig } from '../../src/config/load.js'
import { ConfigError } from '../../src/errors.js'
import { Inbox } from '../helpers/mqtt.js'
import { useApp } from '../helpers/use-app.js'

// A token says who its holder is through one claim, and how long it may be
// used through `exp`. A token that says neither must not let its holder
// choose both.

const SECRET = 'a-jwt-secret-of-at-least-32-characters!!'
const key = new TextEncoder().encode(SECRET)
const f = useApp()

interface Times {
  /** `exp`, as jose's setExpirationTime takes it ('1h', '30d'), or none. */
  exp?: string | undefined
  /** Whether the token has `iat` (now). */
  iat?: boolean
}
const token = (claims: JWTPayload, times: Times = { exp: '1h', iat: true }) => {
  const jwt = new SignJWT(claims).setProtectedHeader({ alg: 'HS256' })
  if (times.iat) jwt.setIssuedAt()
  if (times.exp) jwt.setExpirationTime(times.exp)
  return jwt.sign(key)
}

/** An app with a watcher on the presence events, which name who each client connected as. */
async function start(jwt = `{ secret: '${SECRET}' }`) {
  const t = await f.start(`auth:\n  jwt: ${jwt}\n`)
  // The watcher itself connects with a token: no users are configured.
  const watcher = await f.connect({ clientId: 'watcher', username: 'w', password: await token({ sub: 'watcher', email: 'watcher@example.com' }) })
  const inbox = new Inbox(watcher)
  await watcher.subscribeAsync('$events/presence/connected/+', { qos: 1 })
  return { t, inbox }
}
async function refusals(reason: string): Promise<number> {
  return (await f.metric(`switchyard_connections_refused_total{reason="${reason}"}`)) ?? 0
}

describe('the username claim of a token', () => {
  it('is required: a token without it does not connect as the MQTT username the client sends', async () => {
    await start()
    // Before: this connected as "admin", the username the client chose.
    expect(await f.attempt({ clientId: 'c1', username: 'admin', password: await token({ name: 'x' }) })).toMatch(/Bad username or password/)
    expect(await refusals('token')).toBe(1)
  })

  it.each([
    ['a number', 42],
    ['an empty string', ''],
    ['a list', ['admin']],
    ['null', null],
  ])('must be a non-empty string, not %s', async (_what, sub) => {
    await start()
    expect(await f.attempt({ clientId: 'c1', username: 'admin', password: await token({ sub } as JWTPayload) })).toMatch(/Bad username or password/)
  })

  it('names the user, whatever MQTT username is sent with it', async () => {
    const { inbox } = await start(`{ secret: '${SECRET}', usernameClaim: email }`)
    expect(await f.attempt({ clientId: 'c1', username: 'admin', password: await token({ email: 'bob@example.com' }) })).toBe('connected')
    expect(JSON.parse((await inbox.on('$events/presence/connected/c1')).payload).username).toBe('bob@example.com')
    // The claim named, not `sub`: a token with only a subject is refused.
    expect(await f.attempt({ clientId: 'c2', username: 'admin', password: await token({ sub: 'bob' }) })).toMatch(/Bad username or password/)
  })
})

describe('the lifetime of a token', () => {
  it('must be bounded: a token without exp is refused by default', async () => {
    await start()
    expect(await f.attempt({ clientId: 'c1', username: 'u', password: await token({ sub: 'bob' }, { iat: true }) })).toMatch(/Bad username or password/)
    expect(await f.attempt({ clientId: 'c2', username: 'u', password: await token({ sub: 'bob' }, {}) })).toMatch(/Bad username or password/)
    expect(await refusals('token')).toBe(2)
  })

  it('may not exceed 24 hours by default, counted from iat, or from now without it', async () => {
    await start()
    expect(await f.attempt({ clientId: 'c1', username: 'u', password: await token({ sub: 'bob' }, { exp: '30d', iat: true }) })).toMatch(/Bad username or password/)
    expect(await f.attempt({ clientId: 'c2', username: 'u', password: await token({ sub: 'bob' }, { exp: '30d' }) })).toMatch(/Bad username or password/)
    // An iat set in the future does not stretch the lifetime from now.
    const future = await new SignJWT({ sub: 'bob' }).setProtectedHeader({ alg: 'HS256' })
      .setIssuedAt(Math.floor(Date.now() / 1000) + 29 * 86_400).setExpirationTime('30d').sign(key)
    expect(await f.attempt({ clientId: 'c3', username: 'u', password: future })).toMatch(/Bad username or password/)
    expect(await f.attempt({ clientId: 'c4', username: 'u', password: await token({ sub: 'bob' }, { exp: '23h', iat: true }) })).toBe('connected')
    expect(await f.attempt({ clientId: 'c5', username: 'u', password: await token({ sub: 'bob' }, { exp: '23h' }) })).toBe('connected')
  })

  it('follows jwt.maxLifetime, and jwt.requireExp: false with maxLifetime: 0 accepts tokens that never expire', async () => {
    await start(`{ secret: '${SECRET}', maxLifetime: 1h }`)
    expect(await f.attempt({ clientId: 'c1', username: 'u', password: await token({ sub: 'bob' }, { exp: '2h', iat: true }) })).toMatch(/Bad username or password/)
    expect(await f.attempt({ clientId: 'c2', username: 'u', password: await token({ sub: 'bob' }, { exp: '50m', iat: true }) })).toBe('connected')
    await f.app.close()
    await start(`{ secret: '${SECRET}', requireExp: false, maxLifetime: 0 }`)
    expect(await f.attempt({ clientId: 'c3', username: 'u', password: await token({ sub: 'bob' }, { iat: true }) })).toBe('connected')
    expect(await f.attempt({ clientId: 'c4', username: 'u', password: await token({ sub: 'bob' }, { exp: '3650d', iat: true }) })).toBe('connected')
  })

  it('is checked when exp is required but the lifetime is not capped, and the other way round', async () => {
    await start(`{ secret: '${SECRET}', maxLifetime: 0 }`)
    expect(await f.attempt({ clientId: 'c1', username: 'u', password: await token({ sub: 'bob' }, { exp: '3650d', iat: true }) })).toBe('connected')
    expect(await f.attempt({ clientId: 'c2', username: 'u', password: await token({ sub: 'bob' }, { iat: true }) })).toMatch(/Bad username or password/)
    await f.app.close()
    // With no exp required, a token that has one is still held to the cap.
    await start(`{ secret: '${SECRET}', requireExp: false }`)
    expect(await f.attempt({ clientId: 'c3', username: 'u', password: await token({ sub: 'bob' }, { iat: true }) })).toBe('connected')
    expect(await f.attempt({ clientId: 'c4', username: 'u', password: await token({ sub: 'bob' }, { exp: '30d', iat: true }) })).toMatch(/Bad username or password/)
  })

  it('defaults to guests.lifetime when guests are on, so that the broker\'s own guest tokens connect', async () => {
    const t = await f.start(`auth:\n  jwt: { secret: '${SECRET}' }\n  guests: { lifetime: 30d }\n`)
    const res = await fetch(`${t.httpUrl}/auth/guest`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' })
    const guest = (await res.json()) as { username: string; token: string }
    expect(await f.attempt({ clientId: 'g1', username: 'guest', password: guest.token })).toBe('connected')
    expect(await f.attempt({ clientId: 'g2', username: 'u', password: await token({ sub: 'bob' }, { exp: '31d', iat: true }) })).toMatch(/Bad username or password/)
  })

  it('has options that the config checks, naming file, line and column', () => {
    const errorOf = (text: string) => {
      try {
        parseConfig(text, 'conf/switchyard.yaml')
      } catch (err) {
        return err as ConfigError
      }
      throw new Error('expected a ConfigError')
    }
    const lifetime = errorOf(`auth:\n  jwt:\n    secret: '${SECRET}'\n    maxLifetime: forever\n`)
    expect(lifetime).toBeInstanceOf(ConfigError)
    expect(lifetime.message).toMatch(/^conf\/switchyard.yaml:4:18: auth.jwt.maxLifetime must be a duration/)
    const exp = errorOf(`auth:\n  jwt:\n    secret: '${SECRET}'\n    requireExp: sometimes\n`)
    expect(exp.message).toMatch(/^conf\/switchyard.yaml:4:17: auth.jwt.requireExp must be true or false/)
    const guests = errorOf(`auth:\n  jwt:\n    secret: '${SECRET}'\n    maxLifetime: 1h\n  guests: { lifetime: 30d }\n`)
    expect(guests.message).toMatch(/^conf\/switchyard.yaml:4:18: auth.jwt.maxLifetime must not be shorter than guests.lifetime/)
  })
})
