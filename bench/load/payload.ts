/**
 * The benchmark payload: JSON with fixed-width hex fields at fixed offsets,
 *
 *   {"t":"<send time, ns, 16 hex>","p":"<publisher, 4 hex>","s":"<sequence, 8 hex>","x":"<padding>"}
 *
 * It is JSON so that Switchyard's rules (`SELECT *`) see a normal document,
 * and fixed-width so that the generator writes and reads it in place without
 * parsing, at a cost that does not dwarf the broker's.
 */

const HEAD = '{"t":"'
const T_DIGITS = 16
const P_DIGITS = 4
const S_DIGITS = 8
const T_AT = HEAD.length
const P_AT = T_AT + T_DIGITS + '","p":"'.length
const S_AT = P_AT + P_DIGITS + '","s":"'.length
const X_AT = S_AT + S_DIGITS + '","x":"'.length
const MIN_BYTES = X_AT + '"}'.length
const TWO_32 = 2 ** 32
const HEX = Buffer.from('0123456789abcdef')

/** The smallest payload that holds the fields. */
export const MIN_PAYLOAD_BYTES = MIN_BYTES

/**
 * A payload of `bytes` (at least MIN_PAYLOAD_BYTES) with zeroed fields, to be
 * copied and filled. `members` (such as `,"room":"r","message":"m"`) follow
 * the fixed fields, which keep their offsets: a rule's `SELECT *, ...`
 * output starts with them too, so a republished copy is read the same way.
 */
export function payloadTemplate(bytes: number, members = ''): Buffer {
  const pad = Math.max(0, bytes - MIN_BYTES - members.length)
  const text = `${HEAD}${'0'.repeat(T_DIGITS)}","p":"${'0'.repeat(P_DIGITS)}","s":"${'0'.repeat(S_DIGITS)}","x":"${'.'.repeat(pad)}"${members}}`
  return Buffer.from(text)
}

function writeHex(buf: Buffer, at: number, value: number, digits: number): void {
  for (let i = at + digits - 1; i >= at; i--) {
    buf[i] = HEX[value & 15]!
    value >>>= 4
  }
}

function readHex(buf: Buffer, at: number, digits: number): number {
  let value = 0
  for (let i = at; i < at + digits; i++) {
    const c = buf[i]!
    value = value * 16 + (c <= 57 ? c - 48 : c - 87)
  }
  return value
}

/** Fills the fields of a payload that starts at `at` in `buf`. `sentNs` must be below 2^53. */
export function writeFields(buf: Buffer, at: number, sentNs: number, publisher: number, sequence: number): void {
  writeHex(buf, at + T_AT, Math.floor(sentNs / TWO_32), 8)
  writeHex(buf, at + T_AT + 8, sentNs % TWO_32, 8)
  writeHex(buf, at + P_AT, publisher, P_DIGITS)
  writeHex(buf, at + S_AT, sequence, S_DIGITS)
}

export function readSentNs(payload: Buffer): number {
  return readHex(payload, T_AT, T_DIGITS)
}

export function readPublisher(payload: Buffer): number {
  return readHex(payload, P_AT, P_DIGITS)
}

export function readSequence(payload: Buffer): number {
  return readHex(payload, S_AT, S_DIGITS)
}
