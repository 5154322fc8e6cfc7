import { describe, expect, it } from 'vitest'
import { hashPassword } from '../../src/broker/passwords.js'
import { login, median } from '../helpers/login.js'
import { useApp } from '../helpers/use-app.js'

// A refusal must not say whether the username exists. A wrong password costs
// a scrypt (~80 ms); an unknown username cost nothing (1.2 ms), so one try
// told them apart. Tries alternate between the two kinds and the medians are
// compared, so that load on a shared machine falls on both alike; 0.5 leaves
// room for noise while a refusal without a hash is some 60 times quicker.

const TRIES = 5
const hash = await hashPassword('right-password')
const f = useApp()
const users = (n: number) => Array.from({ length: n }, (_, i) => `{ username: user-${i}, password: '${hash}' }`).join(', ')
/** A source address of its own for each try, so that no address gathers enough failures to be throttled. */
const from = (i: number) => `127.0.1.${i + 1}`

describe('an unknown username', () => {
  it('is refused in the time a wrong password takes', { timeout: 120_000 }, async () => {
    const t = await f.start(`auth:\n  users: [ ${users(TRIES)} ]\n`)
    const port = t.addresses.mqtt.port
    // A first check of each kind, not timed: the dummy hash may be made on first use.
    await login(port, { clientId: 'warm-1', username: 'nobody', password: 'x', localAddress: '127.0.2.1' })
    await login(port, { clientId: 'warm-2', username: 'user-0', password: 'x', localAddress: '127.0.2.2' })
    const unknown: number[] = []
    const wrong: number[] = []
    for (let i = 0; i < TRIES; i++) {
      const a = await login(port, { clientId: `a${i}`, username: `nobody-${i}`, password: 'guess', localAddress: from(i) })
      const b = await login(port, { clientId: `b${i}`, username: `user-${i}`, password: 'guess', localAddress: from(i) })
      expect([a.code, b.code]).toEqual([4, 4])
      unknown.push(a.ms)
      wrong.push(b.ms)
    }
    expect(median(unknown), `unknown user ${unknown.map(Math.round)} ms, wrong password ${wrong.map(Math.round)} ms`).toBeGreaterThanOrEqual(0.5 * median(wrong))
  })

  it('costs a hash where no users are configured and a password is checked', { timeout: 120_000 }, async () => {
    const withUsers = await f.start(`auth:\n  users: [ ${users(TRIES)} ]\n`)
    // Tokens only: a password that is not a token is refused, after a hash as well.
    const tokensOnly = await f.start(`auth:\n  jwt: { secret: 'a-jwt-secret-of-at-least-32-characters!!' }\n`)
    const userless: number[] = []
    const wrong: number[] = []
    for (let i = 0; i < TRIES; i++) {
      const a = await login(tokensOnly.addresses.mqtt.port, { clientId: `a${i}`, username: `nobody-${i}`, password: 'guess', localAddress: from(i) })
      const b = await login(withUsers.addresses.mqtt.port, { clientId: `b${i}`, username: `user-${i}`, password: 'guess', localAddress: from(i) })
      expect([a.code, b.code]).toEqual([4, 4])
      userless.push(a.ms)
      wrong.push(b.ms)
    }
    expect(median(userless), `no users ${userless.map(Math.round)} ms, wrong password ${wrong.map(Math.round)} ms`).toBeGreaterThanOrEqual(0.5 * median(wrong))
  })
})
