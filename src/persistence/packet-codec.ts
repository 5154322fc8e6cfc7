import { deserialize, serialize } from 'node:v8'
import type { StoredPacket } from './types.js'

/** How a packet sits in a row: the payload in its own column, every other field in `packet`. */
export interface EncodedPacket {
  /** A Buffer is stored as a BLOB and a string as TEXT, so each comes back as what it was. */
  payload: Buffer | Uint8Array | string | null
  packet: Buffer
}

/**
 * Packets must come back exactly as they went in: Buffers stay Buffers (in
 * the payload and in MQTT 5 properties such as correlation data), a field
 * set to undefined stays present, numbers stay numbers. JSON loses the first
 * two; the V8 serializer keeps them all, and Node documents its format as
 * safe to store (new versions read old data).
 *
 * The payload gets a column of its own so that the rows can be read with any
 * SQLite tool; a null placeholder keeps its place in the field order.
 */
export function encodePacket(packet: object): EncodedPacket {
  const fields: Record<string, unknown> = {}
  let payload: EncodedPacket['payload'] = null
  for (const [key, value] of Object.entries(packet)) {
    // Aedes' QoSPacket carries its write callback; it is not part of the message.
    if (typeof value === 'function') continue
    if (key === 'payload' && (typeof value === 'string' || value instanceof Uint8Array)) {
      payload = value
      fields[key] = null
    } else {
      fields[key] = value
    }
  }
  return { payload, packet: serialize(fields) }
}

export function decodePacket(payload: Buffer | string | null, packet: Buffer): StoredPacket {
  const decoded = deserialize(packet) as StoredPacket
  if (payload !== null) decoded.payload = payload
  return decoded
}

/** The bytes a packet takes as stored: its payload and its other fields. */
export function encodedSize(encoded: EncodedPacket): number {
  const { payload, packet } = encoded
  const payloadBytes = payload === null ? 0 : typeof payload === 'string' ? Buffer.byteLength(payload) : payload.byteLength
  return payloadBytes + packet.length
}
