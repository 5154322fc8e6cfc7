import { decodePacket, encodePacket } from '../persistence/packet-codec.js'
import type { StoredPacket } from '../storage/session-types.js'

// What the first byte of a stored value says the payload is.
const NO_PAYLOAD = 0
const BUFFER = 1
const STRING = 2
const HEADER = 5

/**
 * A packet as one Redis value, byte-exact both ways: the SQLite codec's two
 * parts (the payload as it was, the V8-serialized fields) in one buffer.
 *
 *   [kind: 1 byte][payload length: 4 bytes, big-endian][payload][fields]
 *
 * The kind keeps a string payload a string and a Buffer a Buffer; with no
 * payload the fields follow the kind byte at once. A later format takes a
 * kind above 2.
 */
export function packPacket(packet: object): Buffer {
  const { payload, packet: fields } = encodePacket(packet)
  if (payload === null) return Buffer.concat([Buffer.of(NO_PAYLOAD), fields])
  const body = typeof payload === 'string' ? Buffer.from(payload, 'utf8') : payload
  const header = Buffer.allocUnsafe(HEADER)
  header[0] = typeof payload === 'string' ? STRING : BUFFER
  header.writeUInt32BE(body.length, 1)
  return Buffer.concat([header, body, fields])
}

export function unpackPacket(value: Buffer): StoredPacket {
  const kind = value[0]
  if (kind === NO_PAYLOAD) return decodePacket(null, value.subarray(1))
  if (kind !== BUFFER && kind !== STRING) throw new Error(`a stored packet of unknown format ${String(kind)}`)
  const end = HEADER + value.readUInt32BE(1)
  const body = value.subarray(HEADER, end)
  // Copied, so that the packet does not hold on to the reply it came in.
  const payload = kind === STRING ? body.toString('utf8') : Buffer.from(body)
  return decodePacket(payload, value.subarray(end))
}
