import { describe, expect, it } from 'vitest'
import { parseConfig } from '../../src/config/load.js'
import type { ConfigError } from '../../src/errors.js'
import { hashPassword } from '../../src/broker/passwords.js'
import { login, median } from '../helpers/login.js'
import { useApp } from '../helpers/use-app.js'
import { waitUntil } from '../helpers/wait.js'

// Failed logins are counted per username and per source address; past the
// limit, tries are refused at once (CONNACK 3, server unavailable: "try
// later" in MQTT 3.1.1) without a hash, whatever the password. The defaults:
// 5 failures per username, 20 per address, a first lock of 10 s.

const f = useApp()
const hash = await hashPassword('right-password')
const CONFIG = `auth:\n  users: [ { username: alice, password: '${hash}' }, { username: bob, password: '${hash}' } ]\n`
const SERVER_UNAVAILABLE = 3
const BAD_CREDENTIALS = 4

async function throttled(): Promise<number> {
  return (await f.metric('switchyard_connections_refused_total{reason="throttled"}')) ?? 0
}

describe('failed logins for one username', () => {
  it('lock it after five, from any address: the right password is then refused too, without a hash', async () => {
    const t = await f.start(CONFIG)
    const port = t.addresses.mqtt.port
    const wrong: number[] = []
    // Each guess from an address of its own, as a botnet's would come.
    for (let i = 1; i <= 5; i++) {
      const r = await login(port, { clientId: `g${i}`, username: 'alice', password: `guess-${i}`, localAddress: `127.0.3.${i}` })
      expect(r.code).toBe(BAD_CREDENTIALS)
      wrong.push(r.ms)
    }
    // Before: guessing went on at the speed of the hash, and the right guess connected.
    const locked = await login(port, { clientId: 'g6', username: 'alice', password: 'right-password', localAddress: '127.0.3.6' })
    expect(locked.code).toBe(SERVER_UNAVAILABLE)
    expect(locked.ms, `locked ${Math.round(locked.ms)} ms, wrong passwords ${wrong.map(Math.round)} ms`).toBeLessThan(0.5 * median(wrong))
    expect(await throttled()).toBe(1)
    // Another user is not held up.
    expect((await login(port, { clientId: 'b', username: 'bob', password: 'right-password', localAddress: '127.0.3.7' })).code).toBe(0)
  })

  it('cannot be outrun by sending the guesses at once', async () => {
    const t = await f.start(CONFIG)
    const port = t.addresses.mqtt.port
    const codes = (await Promise.all(Array.from({ length: 30 }, (_, i) =>
      login(port, { clientId: `g${i}`, username: 'alice', password: `guess-${i}`, localAddress: `127.0.4.${i + 1}` })))).map((r) => r.code)
    // Only as many are checked as could fail before the lock.
    expect(codes.filter((c) => c === BAD_CREDENTIALS)).toHaveLength(5)
    expect(codes.filter((c) => c === SERVER_UNAVAILABLE)).toHaveLength(25)
    expect(await throttled()).toBe(25)
  })

  it('start again from nothing after a successful login', async () => {
    const t = await f.start(CONFIG)
    const port = t.addresses.mqtt.port
    for (let round = 0; round < 3; round++) {
      for (let i = 0; i < 4; i++) expect((await login(port, { clientId: `g${i}`, username: 'alice', password: 'guess', localAddress: `127.0.5.${i + 1}` })).code).toBe(BAD_CREDENTIALS)
      expect((await login(port, { clientId: 'a', username: 'alice', password: 'right-password', localAddress: '127.0.5.9' })).code).toBe(0)
    }
    expect(await throttled()).toBe(0)
  })

  it('lock it for auth.loginThrottle.lockout, after which the right password connects', async () => {
    const t = await f.start(`${CONFIG}  loginThrottle: { lockout: 1s }\n`)
    const port = t.addresses.mqtt.port
    for (let i = 0; i < 5; i++) await login(port, { clientId: `g${i}`, username: 'alice', password: 'guess', localAddress: `127.0.6.${i + 1}` })
    expect((await login(port, { clientId: 'a', username: 'alice', password: 'right-password' })).code).toBe(SERVER_UNAVAILABLE)
    // Tries during the lock are refused and do not lengthen it.
    await waitUntil(async () => (await login(port, { clientId: 'a', username: 'alice', password: 'right-password' })).code, { what: 'the lock to end', until: (c) => c === 0, timeout: 5000, interval: 100 })
  })
})

describe('failed logins from one address', () => {
  it('lock it after twenty, whatever the usernames; other addresses still log in', async () => {
    const t = await f.start(CONFIG)
    const port = t.addresses.mqtt.port
    // A spray of usernames, sent at once: no username reaches its own limit.
    const codes = (await Promise.all(Array.from({ length: 25 }, (_, i) =>
      login(port, { clientId: `s${i}`, username: `user-${i}`, password: 'guess', localAddress: '127.0.7.1' })))).map((r) => r.code)
    expect(codes.filter((c) => c === BAD_CREDENTIALS)).toHaveLength(20)
    expect(codes.filter((c) => c === SERVER_UNAVAILABLE)).toHaveLength(5)
    // Before: the right password connected from the attacking address.
    expect((await login(port, { clientId: 'b1', username: 'bob', password: 'right-password', localAddress: '127.0.7.1' })).code).toBe(SERVER_UNAVAILABLE)
    expect((await login(port, { clientId: 'b2', username: 'bob', password: 'right-password', localAddress: '127.0.7.2' })).code).toBe(0)
  })

  it('can be let through with maxAddressFailures: 0, for clients behind one proxy', async () => {
    const t = await f.start(`${CONFIG}  loginThrottle: { maxAddressFailures: 0 }\n`)
    const port = t.addresses.mqtt.port
    const codes = (await Promise.all(Array.from({ length: 25 }, (_, i) =>
      login(port, { clientId: `s${i}`, username: `user-${i}`, password: 'guess', localAddress: '127.0.8.1' })))).map((r) => r.code)
    expect(codes.every((c) => c === BAD_CREDENTIALS)).toBe(true)
    expect((await login(port, { clientId: 'b1', username: 'bob', password: 'right-password', localAddress: '127.0.8.1' })).code).toBe(0)
  })
})

describe('the login config', () => {
  it.each([
    ['a negative failure count', 'loginThrottle:\n    maxFailures: -1', 'auth.loginThrottle.maxFailures', /must be a whole number, 0 or more/],
    ['a lockout that is not a duration', 'loginThrottle:\n    lockout: a while', 'auth.loginThrottle.lockout', /must be a duration/],
    ['a longest lockout under the first', 'loginThrottle:\n    lockout: 1m\n    maxLockout: 10s', 'auth.loginThrottle.maxLockout', /must not be shorter than lockout/],
    ['no room to remember anyone', 'loginThrottle:\n    maxTracked: 10', 'auth.loginThrottle.maxTracked', /must be at least 100/],
    ['no password check at a time', 'passwordChecks:\n    concurrency: 0', 'auth.passwordChecks.concurrency', /must be at least 1/],
    ['a queue of half a check', 'passwordChecks:\n    queueSize: 0.5', 'auth.passwordChecks.queueSize', /must be a whole number/],
  ])('names file, line and column for %s', (_what, yaml, key, message) => {
    let err: ConfigError | undefined
    try {
      parseConfig(`auth:\n  ${yaml}\n`, 'conf/switchyard.yaml')
    } catch (e) {
      err = e as ConfigError
    }
    expect(err?.key).toBe(key)
    expect(err?.message).toMatch(new RegExp(`^conf/switchyard.yaml:\\d+:\\d+: ${key.replace(/\./g, '\\.')} `))
    expect(err?.message).toMatch(message)
  })
})
