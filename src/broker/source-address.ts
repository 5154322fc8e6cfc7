import { isIPv4, isIPv6 } from 'node:net'

/**
 * The part of a client's address that counts as one source for the login
 * throttle and the per-address connection limits (Admission). An IPv4
 * address is one source (and one mapped into IPv6, `::ffff:192.0.2.1`, is
 * that IPv4 address). An IPv6 address counts by its /64: a single host is
 * usually given a whole /64 (RFC 6177), so counting each of its 2^64
 * addresses apart would count nothing at all.
 */
export function sourceOf(address: string | undefined): string {
  if (!address) return 'unknown'
  const plain = address.replace(/%.*$/, '')
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(plain)
  if (mapped && isIPv4(mapped[1]!)) return mapped[1]!
  if (!isIPv6(plain)) return plain
  return `${expandIPv6(plain).slice(0, 4).join(':')}::/64`
}

/** The eight groups of an IPv6 address, `::` filled in, without leading zeros. */
function expandIPv6(address: string): string[] {
  const [head = '', tail] = address.split('::')
  const groups = (part: string) => (part === '' ? [] : part.split(':'))
  const left = groups(head)
  const right = tail === undefined ? [] : groups(tail)
  // An embedded IPv4 tail (::1.2.3.4) takes two groups; only the first four matter here.
  const width = (parts: string[]) => parts.reduce((n, g) => n + (g.includes('.') ? 2 : 1), 0)
  const zeros = tail === undefined ? [] : Array<string>(8 - width(left) - width(right)).fill('0')
  return [...left, ...zeros, ...right].map((g) => (g.includes('.') ? g : (parseInt(g, 16) || 0).toString(16)))
}
