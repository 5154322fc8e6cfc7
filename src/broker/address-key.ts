import { isIPv6 } from 'node:net'

/**
 * What connections are counted under for the per-address limits: an IPv4
 * address as it is, an IPv6 address by its first 64 bits. A host is given
 * a whole /64 (RFC 7934; a phone gets one from its carrier), so counting
 * each IPv6 address apart would let one host open connections from as many
 * addresses as it likes. A site with many /64s (a home line's /56, RFC
 * 6177) is left to the limits of all addresses together. An IPv4 address
 * mapped into IPv6 (`::ffff:192.0.2.1`, from a dual-stack listener) is the
 * IPv4 address.
 */
export function addressKey(remoteAddress: string): string {
  if (!isIPv6(remoteAddress)) return remoteAddress
  const lower = remoteAddress.toLowerCase()
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(lower)
  if (mapped) return mapped[1]!
  // A zone (fe80::1%eth0) names an interface, not part of the address.
  const groups = expand(lower.split('%')[0]!)
  return `${groups.slice(0, 4).join(':')}::/64`
}

/** The eight groups of an IPv6 address, without leading zeros; an embedded IPv4 tail becomes two groups. */
function expand(address: string): string[] {
  const [head, tail] = address.split('::') as [string, string | undefined]
  const parts = (text: string) => (text === '' ? [] : text.split(':').flatMap(group))
  const left = parts(head)
  if (tail === undefined) return left
  const right = parts(tail)
  return [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right]
}

function group(text: string): string[] {
  if (!text.includes('.')) return [Number.parseInt(text, 16).toString(16)]
  const [a, b, c, d] = text.split('.').map(Number) as [number, number, number, number]
  return [((a << 8) | b).toString(16), ((c << 8) | d).toString(16)]
}
