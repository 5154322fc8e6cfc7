import mqttPacket, { type Packet } from 'mqtt-packet'

/*
 * Malformed MQTT streams for the fault tests: valid packets made with
 * mqtt-packet, then mutated, truncated or replaced by ones that break a
 * specific rule of MQTT 3.1.1. Everything comes from one seeded PRNG, so a
 * seed names the exact list of cases.
 */

/** mulberry32: small, fast and good enough to pick mutations; returns [0, 1). */
export function prng(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

type Rng = () => number
const int = (rng: Rng, n: number) => Math.floor(rng() * n)
const pick = <T>(rng: Rng, items: readonly T[]): T => items[int(rng, items.length)]!
const bytes = (rng: Rng, n: number) => Buffer.from(Array.from({ length: n }, () => int(rng, 256)))

/**
 * What the broker must do with a case. `server`: the stream breaks a rule
 * the broker checks, so it must close the connection by itself. `any`: the
 * stream may be harmless (a mutation can land in a payload); the client
 * ends it, and the broker must close its side promptly.
 */
export type Expect = 'server' | 'any'

export interface FuzzCase {
  kind: string
  expect: Expect
  /** The whole stream the malicious client sends. */
  stream: Buffer
  /** MQTT packets in the stream (a mutated one counts as one). */
  packets: number
}

const generate = (packet: object) => mqttPacket.generate(packet as Packet)

/** Topics the fuzz clients use: never the well-behaved clients' own. */
function topic(rng: Rng): string {
  return pick(rng, ['fuzz/a', 'fuzz/b/c', `fuzz/${int(rng, 1000)}`, 'fuzz/+', 'fuzz/#', '#', '+/x', '$events/x', '$SYS/y', 'fuzz//', 'fuzz/\u00e9t\u00e9'])
}

function connect(rng: Rng, id: string): Buffer {
  const will = rng() < 0.2 ? { topic: `fuzz/will/${id}`, payload: Buffer.from('gone'), qos: int(rng, 3), retain: rng() < 0.5 } : undefined
  return generate({
    cmd: 'connect',
    protocolId: 'MQTT',
    protocolVersion: 4,
    clientId: id,
    clean: rng() < 0.8,
    keepalive: 30,
    ...(will ? { will } : {}),
    ...(rng() < 0.1 ? { username: 'fuzzer', password: bytes(rng, 4) } : {}),
  })
}

/** A valid packet a client may send after CONNECT (and a few it may not). */
function packet(rng: Rng): Buffer {
  const messageId = 1 + int(rng, 65535)
  switch (int(rng, 10)) {
    case 0:
    case 1:
    case 2: {
      const qos = int(rng, 3)
      const size = rng() < 0.9 ? int(rng, 64) : int(rng, 20_000)
      return generate({ cmd: 'publish', topic: pick(rng, ['fuzz/a', `fuzz/${int(rng, 1000)}`, 'fuzz/b/c']), payload: bytes(rng, size), qos, retain: rng() < 0.1, dup: false, ...(qos > 0 ? { messageId } : {}) })
    }
    case 3:
      return generate({ cmd: 'subscribe', messageId, subscriptions: Array.from({ length: 1 + int(rng, 3) }, () => ({ topic: topic(rng), qos: int(rng, 3) })) })
    case 4:
      return generate({ cmd: 'unsubscribe', messageId, unsubscriptions: [topic(rng)] })
    case 5:
      return generate({ cmd: pick(rng, ['puback', 'pubrec', 'pubrel', 'pubcomp']), messageId })
    case 6:
      return generate({ cmd: 'pingreq' })
    case 7:
      return generate({ cmd: pick(rng, ['connack', 'suback', 'unsuback', 'pingresp']), returnCode: 0, messageId, granted: [0] })
    case 8:
      return connect(rng, `fuzz-${int(rng, 1e6)}`)
    default:
      return generate({ cmd: 'disconnect' })
  }
}

/** The remaining length field, as MQTT encodes it (or longer, when asked for a broken one). */
function varint(n: number): Buffer {
  const out: number[] = []
  do {
    let b = n % 128
    n = Math.floor(n / 128)
    if (n > 0) b |= 0x80
    out.push(b)
  } while (n > 0)
  return Buffer.from(out)
}

/** One random change to a packet. */
function mutate(rng: Rng, p: Buffer): Buffer {
  const b = Buffer.from(p)
  const at = int(rng, b.length)
  switch (int(rng, 8)) {
    case 0:
      b[at] = b[at]! ^ (1 << int(rng, 8))
      return b
    case 1:
      b[at] = int(rng, 256)
      return b
    case 2:
      return b.subarray(0, Math.max(1, at))
    case 3:
      return Buffer.concat([b.subarray(0, at), bytes(rng, 1 + int(rng, 16)), b.subarray(at)])
    case 4:
      return Buffer.concat([b.subarray(0, at), b.subarray(Math.min(b.length, at + 1 + int(rng, 8)))])
    case 5:
      // The first byte: another type or other flags.
      b[0] = (int(rng, 16) << 4) | int(rng, 16)
      return b
    case 6:
      // A remaining length that does not match the bytes that follow.
      return Buffer.concat([b.subarray(0, 1), varint(int(rng, 1 << int(rng, 28))), b.subarray(2)])
    default:
      return Buffer.concat([b, b.subarray(int(rng, b.length))])
  }
}

/** A publish whose topic is the given raw bytes (not necessarily UTF-8). */
export function rawPublish(topicBytes: readonly number[], payload = Buffer.from('x')): Buffer {
  const body = Buffer.concat([Buffer.from([topicBytes.length >> 8, topicBytes.length & 0xff, ...topicBytes]), payload])
  return Buffer.concat([Buffer.from([0x30]), varint(body.length), body])
}

/** Byte sequences that are not well-formed UTF-8, or that encode U+0000 [MQTT-1.5.3-1, MQTT-1.5.3-2]. */
export const BAD_UTF8: readonly (readonly number[])[] = [
  [0x61, 0xc0, 0x80], // overlong U+0000
  [0x61, 0x00, 0x62], // U+0000
  [0xff, 0xfe], // never valid in UTF-8
  [0x61, 0xed, 0xa0, 0x80], // a UTF-16 surrogate
  [0x61, 0xe2, 0x82], // cut short
  [0xf4, 0x90, 0x80, 0x80], // past U+10FFFF
]

/** A CONNECT whose will flags say QoS 3, which MQTT forbids [MQTT-3.1.2-14]. */
export function willQos3Connect(clientId: string, willTopic = `fuzz/will/${clientId}`): Buffer {
  const c = generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clientId, clean: true, keepalive: 30, will: { topic: willTopic, payload: Buffer.from('gone'), qos: 0, retain: false } })
  const flags = c.indexOf('MQTT') + 5
  c[flags] = c[flags]! | 0x18
  return c
}

const CASES: Record<string, { expect: Expect; build(rng: Rng, id: string): Buffer[] }> = {
  // Valid packets, one of them changed at random; the client ends the stream.
  mutated: {
    expect: 'any',
    build(rng, id) {
      const packets = Array.from({ length: 1 + int(rng, 4) }, () => packet(rng))
      const i = int(rng, packets.length)
      packets[i] = mutate(rng, packets[i]!)
      if (rng() < 0.3) packets[i] = mutate(rng, packets[i]!)
      return [connect(rng, id), ...packets]
    },
  },
  // A packet cut short, then the end of the stream.
  truncated: {
    expect: 'any',
    build: (rng, id) => {
      const p = packet(rng)
      return [connect(rng, id), p.subarray(0, int(rng, p.length))]
    },
  },
  garbage: { expect: 'any', build: (rng) => [bytes(rng, 1 + int(rng, 512))] },
  // Packet types 0 and 15 are reserved in MQTT 3.1.1 [MQTT-2.2.1].
  reserved: { expect: 'server', build: (rng, id) => [connect(rng, id), Buffer.from([pick(rng, [0x00, 0xf0]) | int(rng, 16), 0])] },
  // Flags that Table 2.2 fixes, set otherwise [MQTT-2.2.2-2], and a PUBLISH at QoS 3 [MQTT-3.3.1-4].
  flags: {
    expect: 'server',
    build: (rng, id) => {
      const p = Buffer.from(packet(rng))
      const type = p[0]! >> 4
      if (type === 3) p[0] = p[0]! | 0x06
      else p[0] = (type << 4) | ((p[0]! & 0x0f) ^ (1 + int(rng, 15)))
      return [connect(rng, id), p]
    },
  },
  // The first packet must be CONNECT [MQTT-3.1.0-1].
  'before-connect': {
    expect: 'server',
    build: (rng) => {
      let p = packet(rng)
      while (p[0]! >> 4 === 1) p = packet(rng)
      return [p]
    },
  },
  // A second CONNECT is a protocol violation [MQTT-3.1.0-2].
  'second-connect': { expect: 'server', build: (rng, id) => [connect(rng, id), connect(rng, `${id}-again`)] },
  // A remaining length past the packet size limit, or one of five bytes [MQTT-2.2.3].
  oversized: {
    expect: 'server',
    build: (rng, id) => {
      const header = rng() < 0.5 ? Buffer.from([0x30, 0xff, 0xff, 0xff, 0xff, 0x01]) : Buffer.concat([Buffer.from([0x30]), varint(2_000_000 + int(rng, 260_000_000))])
      return [connect(rng, id), header, bytes(rng, int(rng, 64))]
    },
  },
  // CONNECTs that break a rule of section 3.1: protocol name, level, reserved flag.
  'bad-connect': {
    expect: 'server',
    build: (rng, id) => {
      const c = Buffer.from(connect(rng, id))
      // After the fixed header: 00 04 'MQTT', the level, the flags.
      const name = c.indexOf('MQTT')
      switch (int(rng, 3)) {
        case 0:
          c[name + 1] = 0x58 // 'MXTT'
          break
        case 1:
          c[name + 4] = pick(rng, [0, 1, 2, 6, 7, 0x7f])
          break
        default:
          c[name + 5] = c[name + 5]! | 0x01 // [MQTT-3.1.2-3]
      }
      return [c]
    },
  },
  // A will at QoS 3 [MQTT-3.1.2-14], which the broker does not check (see willQos3Connect).
  'will-qos-3': { expect: 'any', build: (_rng, id) => [willQos3Connect(id)] },
  // Topics that are not well-formed UTF-8 or hold U+0000.
  'bad-utf8': { expect: 'any', build: (rng, id) => [connect(rng, id), rawPublish(pick(rng, BAD_UTF8))] },
}

export const CASE_KINDS = Object.keys(CASES)

/** `count` cases from `seed`: the same seed always gives the same cases. */
export function fuzzCases(seed: number, count: number): FuzzCase[] {
  const rng = prng(seed)
  const kinds = Object.entries(CASES)
  return Array.from({ length: count }, (_, i) => {
    // Mutated streams are the bulk; every other kind is sent many times too.
    const [kind, spec] = rng() < 0.5 ? kinds[0]! : pick(rng, kinds)
    const parts = spec.build(rng, `fuzz-${seed}-${i}`)
    return { kind, expect: spec.expect, stream: Buffer.concat(parts), packets: parts.length }
  })
}
