import { describe, expect, it } from 'vitest'
import { sourceOf } from './source-address.js'

describe('sourceOf', () => {
  it('keeps an IPv4 address, and the IPv4 address inside an IPv4-mapped IPv6 one', () => {
    expect(sourceOf('192.0.2.1')).toBe('192.0.2.1')
    expect(sourceOf('::ffff:192.0.2.1')).toBe('192.0.2.1')
    expect(sourceOf('::FFFF:192.0.2.1')).toBe('192.0.2.1')
  })

  it('counts an IPv6 address by its /64, however it is written', () => {
    const key = '2001:db8:0:1::/64'
    for (const a of ['2001:db8:0:1::1', '2001:db8:0:1:ffff:ffff:ffff:ffff', '2001:0DB8:0000:0001:0:0:0:2', '2001:db8:0:1::192.0.2.1', '2001:db8:0:1::1%eth0']) {
      expect(sourceOf(a)).toBe(key)
    }
    expect(sourceOf('2001:db8:0:2::1')).toBe('2001:db8:0:2::/64')
    expect(sourceOf('::1')).toBe('0:0:0:0::/64')
    expect(sourceOf('fe80::1')).toBe('fe80:0:0:0::/64')
  })
})
