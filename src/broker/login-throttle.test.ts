import { describe, expect, it } from 'vitest'
import { loginThrottleSchema } from './auth-schema.js'
import { LoginThrottle, type LoginTicket } from './login-throttle.js'
import { sourceOf } from './source-address.js'

const config = (extra: Record<string, unknown> = {}) => loginThrottleSchema.parse(extra)
const clock = () => {
  let t = 1_000_000
  return { now: () => t, advance: (ms: number) => void (t += ms) }
}
function ticket(throttle: LoginThrottle, username: string, address = '192.0.2.1'): LoginTicket {
  const admission = throttle.admit(username, address)
  if (!admission.ok) throw new Error(`refused: ${admission.reason}`)
  return admission.ticket
}
const admitted = (throttle: LoginThrottle, username: string, address = '192.0.2.1') => throttle.admit(username, address).ok

describe('LoginThrottle', () => {
  it('locks a username after maxFailures, for lockout, doubled by each failure after it up to maxLockout', () => {
    const c = clock()
    const throttle = new LoginThrottle(config({ lockout: '10s', maxLockout: '35s' }), c.now)
    for (let i = 0; i < 4; i++) expect(ticket(throttle, 'alice', `192.0.2.${i}`).failed()).toEqual([])
    expect(ticket(throttle, 'alice').failed()).toEqual([{ kind: 'username', ms: 10_000, failures: 5 }])
    expect(admitted(throttle, 'alice', '198.51.100.7')).toBe(false)
    expect(admitted(throttle, 'bob')).toBe(true)
    c.advance(10_000)
    expect(ticket(throttle, 'alice').failed()).toEqual([{ kind: 'username', ms: 20_000, failures: 6 }])
    c.advance(19_999)
    expect(admitted(throttle, 'alice')).toBe(false)
    c.advance(1)
    expect(ticket(throttle, 'alice').failed()).toEqual([{ kind: 'username', ms: 35_000, failures: 7 }])
  })

  it('resets a username on success, but not the address', () => {
    const throttle = new LoginThrottle(config({ maxAddressFailures: 6 }), clock().now)
    for (let i = 0; i < 4; i++) ticket(throttle, 'alice').failed()
    ticket(throttle, 'alice').succeeded()
    for (let i = 0; i < 2; i++) ticket(throttle, 'alice').failed()
    // Four and two failures for alice: no lock. Six for the address: locked.
    expect(admitted(throttle, 'alice')).toBe(false)
    expect(admitted(throttle, 'alice', '192.0.2.2')).toBe(true)
  })

  it('admits no more checks at once than a key has failures left', () => {
    const throttle = new LoginThrottle(config(), clock().now)
    const tickets = Array.from({ length: 5 }, () => ticket(throttle, 'alice', '192.0.2.9'))
    expect(admitted(throttle, 'alice', '192.0.2.10')).toBe(false)
    // A check that did not happen gives its place back, and counts nothing.
    tickets[0]!.abandoned()
    tickets[0]!.failed()
    expect(admitted(throttle, 'alice', '192.0.2.10')).toBe(true)
  })

  it('forgets failures window after the last one, or after the lock ends', () => {
    const c = clock()
    const throttle = new LoginThrottle(config({ window: '1m', lockout: '10s' }), c.now)
    for (let i = 0; i < 4; i++) ticket(throttle, 'alice').failed()
    c.advance(60_000)
    for (let i = 0; i < 4; i++) expect(ticket(throttle, 'alice').failed()).toEqual([])
    ticket(throttle, 'alice').failed()
    c.advance(10_000 + 59_999)
    // Still remembered: the next failure doubles the lock.
    expect(ticket(throttle, 'alice').failed()).toEqual([{ kind: 'username', ms: 20_000, failures: 6 }])
    c.advance(20_000 + 60_000)
    expect(ticket(throttle, 'alice').failed()).toEqual([])
  })

  it('keeps at most maxTracked keys of each kind, forgetting the least recently used', () => {
    const throttle = new LoginThrottle(config({ maxTracked: 100, maxAddressFailures: 0 }), clock().now)
    for (let i = 0; i < 5; i++) ticket(throttle, 'alice').failed()
    expect(admitted(throttle, 'alice')).toBe(false)
    for (let i = 0; i < 99; i++) ticket(throttle, `user-${i}`).failed()
    // alice was touched last by the refusal: still there.
    expect(admitted(throttle, 'alice')).toBe(false)
    for (let i = 99; i < 200; i++) ticket(throttle, `user-${i}`).failed()
    expect(admitted(throttle, 'alice')).toBe(true)
  })

  it('turns a kind off with 0', () => {
    const throttle = new LoginThrottle(config({ maxFailures: 0, maxAddressFailures: 0 }), clock().now)
    for (let i = 0; i < 50; i++) ticket(throttle, 'alice').failed()
    expect(admitted(throttle, 'alice')).toBe(true)
  })
})

describe('sourceOf', () => {
  it.each([
    ['192.0.2.1', '192.0.2.1'],
    ['::ffff:192.0.2.1', '192.0.2.1'],
    ['2001:db8:1:2:3:4:5:6', '2001:db8:1:2::/64'],
    ['2001:db8:1:2::9', '2001:db8:1:2::/64'],
    ['2001:0db8:0001:0002:ffff::1', '2001:db8:1:2::/64'],
    ['2001:db8::1', '2001:db8:0:0::/64'],
    ['::1', '0:0:0:0::/64'],
    ['fe80::1%eth0', 'fe80:0:0:0::/64'],
    [undefined, 'unknown'],
  ])('counts %s as %s', (address, source) => {
    expect(sourceOf(address)).toBe(source)
  })
})
