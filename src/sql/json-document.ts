/**
 * Whether a payload is a JSON document (an object or an array, as
 * `documentOf` reads it) without building it: for `SELECT *` output that
 * only travels as the text published, such as a stored event's data.
 *
 * The bytes are checked against the grammar of RFC 8259 as they are, which
 * answers as `JSON.parse` of their UTF-8 text does: outside strings only
 * ASCII is valid in both, and inside a string any byte of 0x80 or above
 * decodes to a character (U+FFFD when it is not valid UTF-8), which JSON
 * allows there.
 */

/** The payload is one JSON object or array. */
export const DOCUMENT = 0
/** The payload is not a JSON object or array. */
export const NOT_A_DOCUMENT = 1
/** The payload nests deeper than asked; it may or may not be JSON. */
export const TOO_DEEP = 2

export type JsonDocumentCheck = typeof DOCUMENT | typeof NOT_A_DOCUMENT | typeof TOO_DEEP

const OBJECT = 1
const ARRAY = 2

/** A container per level, reused: the check runs on the main thread, one payload at a time. */
let containers = new Uint8Array(64)

/** Checks `bytes` as one JSON object or array whose containers nest at most `maxNesting` deep. */
export function checkJsonDocument(bytes: Uint8Array, maxNesting: number): JsonDocumentCheck {
  const n = bytes.length
  let i = skipSpace(bytes, 0)
  if (bytes[i] !== 0x7b /* { */ && bytes[i] !== 0x5b /* [ */) return NOT_A_DOCUMENT
  if (containers.length < maxNesting) containers = new Uint8Array(maxNesting)
  let depth = 0
  value: for (;;) {
    // A value starts at i.
    i = skipSpace(bytes, i)
    const c = bytes[i]
    if (c === 0x7b /* { */) {
      if (depth === maxNesting) return TOO_DEEP
      containers[depth++] = OBJECT
      i = skipSpace(bytes, i + 1)
      if (bytes[i] === 0x7d /* } */) {
        depth--
        i++
      } else {
        i = memberName(bytes, i)
        if (i < 0) return NOT_A_DOCUMENT
        continue value
      }
    } else if (c === 0x5b /* [ */) {
      if (depth === maxNesting) return TOO_DEEP
      containers[depth++] = ARRAY
      i = skipSpace(bytes, i + 1)
      if (bytes[i] === 0x5d /* ] */) {
        depth--
        i++
      } else continue value
    } else if (c === 0x22 /* " */) {
      i = string(bytes, i)
    } else if (c === 0x2d /* - */ || isDigit(c)) {
      i = number(bytes, i)
    } else if (c === 0x74 /* t */) {
      i = literal(bytes, i, TRUE)
    } else if (c === 0x66 /* f */) {
      i = literal(bytes, i, FALSE)
    } else if (c === 0x6e /* n */) {
      i = literal(bytes, i, NULL)
    } else return NOT_A_DOCUMENT
    if (i < 0) return NOT_A_DOCUMENT
    // A value ended at i: what follows it in its container, or the end.
    for (;;) {
      i = skipSpace(bytes, i)
      if (depth === 0) return i === n ? DOCUMENT : NOT_A_DOCUMENT
      const next = bytes[i]
      if (containers[depth - 1] === OBJECT) {
        if (next === 0x2c /* , */) {
          i = memberName(bytes, skipSpace(bytes, i + 1))
          if (i < 0) return NOT_A_DOCUMENT
          continue value
        }
        if (next !== 0x7d /* } */) return NOT_A_DOCUMENT
      } else {
        if (next === 0x2c /* , */) {
          i++
          continue value
        }
        if (next !== 0x5d /* ] */) return NOT_A_DOCUMENT
      }
      depth--
      i++
    }
  }
}

function skipSpace(bytes: Uint8Array, i: number): number {
  for (;;) {
    const c = bytes[i]
    if (c !== 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09) return i
    i++
  }
}

/** A member's name and its colon, from its opening quote at i; the index after the colon, or -1. */
function memberName(bytes: Uint8Array, i: number): number {
  if (bytes[i] !== 0x22 /* " */) return -1
  i = string(bytes, i)
  if (i < 0) return -1
  i = skipSpace(bytes, i)
  return bytes[i] === 0x3a /* : */ ? i + 1 : -1
}

/** A string from its opening quote at i; the index after its closing quote, or -1. */
function string(bytes: Uint8Array, i: number): number {
  const n = bytes.length
  i++
  while (i < n) {
    const c = bytes[i]!
    if (c === 0x22 /* " */) return i + 1
    if (c === 0x5c /* \ */) {
      const e = bytes[i + 1]
      if (e === 0x75 /* u */) {
        if (!isHex(bytes[i + 2]) || !isHex(bytes[i + 3]) || !isHex(bytes[i + 4]) || !isHex(bytes[i + 5])) return -1
        i += 6
      } else if (e === 0x22 || e === 0x5c || e === 0x2f /* / */ || e === 0x62 /* b */ || e === 0x66 /* f */ || e === 0x6e /* n */ || e === 0x72 /* r */ || e === 0x74 /* t */) {
        i += 2
      } else return -1
    } else if (c < 0x20) return -1
    else i++
  }
  return -1
}

function isHex(c: number | undefined): boolean {
  return c !== undefined && ((c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66))
}

function isDigit(c: number | undefined): boolean {
  return c !== undefined && c >= 0x30 && c <= 0x39
}

/** A number from i: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?; the index after it, or -1. */
function number(bytes: Uint8Array, i: number): number {
  if (bytes[i] === 0x2d /* - */) i++
  if (bytes[i] === 0x30 /* 0 */) i++
  else if (isDigit(bytes[i])) {
    do i++
    while (isDigit(bytes[i]))
  } else return -1
  if (bytes[i] === 0x2e /* . */) {
    i++
    if (!isDigit(bytes[i])) return -1
    do i++
    while (isDigit(bytes[i]))
  }
  if (bytes[i] === 0x65 /* e */ || bytes[i] === 0x45 /* E */) {
    i++
    if (bytes[i] === 0x2b /* + */ || bytes[i] === 0x2d /* - */) i++
    if (!isDigit(bytes[i])) return -1
    do i++
    while (isDigit(bytes[i]))
  }
  return i
}

const TRUE = Buffer.from('true')
const FALSE = Buffer.from('false')
const NULL = Buffer.from('null')

function literal(bytes: Uint8Array, i: number, word: Uint8Array): number {
  for (let k = 0; k < word.length; k++) if (bytes[i + k] !== word[k]) return -1
  return i + word.length
}
