import { describe, expect, it } from 'vitest'
import { prng } from '../../test/faults/mqtt-fuzz.js'
import { checkJsonDocument, DOCUMENT, NOT_A_DOCUMENT, TOO_DEEP } from './json-document.js'

/** What `documentOf` makes of a payload: JSON.parse of its UTF-8 text, an object or array counting. */
function parsesAsDocument(bytes: Buffer): boolean {
  const first = bytes.toString('latin1').trimStart()[0]
  if (first !== '{' && first !== '[') return false
  try {
    return typeof JSON.parse(bytes.toString('utf8')) === 'object'
  } catch {
    return false
  }
}

function check(text: string | Buffer, maxNesting = 512): number {
  return checkJsonDocument(typeof text === 'string' ? Buffer.from(text) : text, maxNesting)
}

const SAMPLES = [
  '{}', '[]', ' \t\r\n{ } ', '{"a":1}', '[1,2,3]', '{"a":[true,false,null],"b":{"c":"d"}}',
  '[-0, 0.5, -1.25e+10, 1E-3, 12345678901234567890, 1e400]', '["\\"\\\\\\/\\b\\f\\n\\r\\t\\u00e9\\uD800"]',
  '{"t":"0000000000000000","p":"0000","s":"00000000","x":"....."}', '[[[[[]]]]]', '{"é":"ü", "k":"\u2028"}',
  '[{"a":{}},[],{}]', '{"a" : 1 , "b" : [ 1 , 2 ] }',
]

const BROKEN = [
  '', ' ', '1', '"a"', 'true', 'null', '{', '[', '}', '{]', '[}', '{"a"}', '{"a":}', '{"a":1,}', '[1,]', '[,1]',
  '{a:1}', "{'a':1}", '[01]', '[1.]', '[.5]', '[+1]', '[-]', '[1e]', '[1e+]', '[0x10]', '[NaN]', '[Infinity]',
  '[tru]', '[nul]', '[True]', '["\\x"]', '["\\u12"]', '["\\u12G4"]', '["a\u0001"]', '["a\n"]', '["unterminated]',
  '{} {}', '[] x', '[1 2]', '{"a":1 "b":2}', '{"a"::1}', '\ufeff{}', '[\u00a0]', '[1]\u0000',
]

describe('checkJsonDocument', () => {
  it('accepts JSON objects and arrays', () => {
    for (const text of SAMPLES) {
      expect(parsesAsDocument(Buffer.from(text)), text).toBe(true)
      expect(check(text), text).toBe(DOCUMENT)
    }
  })

  it('refuses anything JSON.parse refuses, and JSON that is not an object or array', () => {
    for (const text of BROKEN) {
      expect(parsesAsDocument(Buffer.from(text)), text).toBe(false)
      expect(check(text), text).toBe(NOT_A_DOCUMENT)
    }
  })

  it('reads bytes that are not UTF-8 inside a string as JSON.parse reads their text, and refuses them outside', () => {
    const inside = Buffer.concat([Buffer.from('["a'), Buffer.from([0xff, 0xc3, 0x28, 0x80]), Buffer.from('"]')])
    expect(parsesAsDocument(inside)).toBe(true)
    expect(check(inside)).toBe(DOCUMENT)
    const outside = Buffer.concat([Buffer.from('[1'), Buffer.from([0xff]), Buffer.from(']')])
    expect(parsesAsDocument(outside)).toBe(false)
    expect(check(outside)).toBe(NOT_A_DOCUMENT)
  })

  it('answers as JSON.parse does for every byte in a string, after an escape, in a number and between values', () => {
    for (let byte = 0; byte < 256; byte++) {
      for (const [head, tail] of [['["a', 'b"]'], ['["\\', '"]'], ['["\\u00', '0"]'], ['[1', ']'], ['[1,', '2]'], ['{"a"', ':1}'], ['', '[]']]) {
        const payload = Buffer.concat([Buffer.from(head!), Buffer.from([byte]), Buffer.from(tail!)])
        const expected = parsesAsDocument(payload) ? DOCUMENT : NOT_A_DOCUMENT
        expect(check(payload), `${head} ${byte} ${tail}`).toBe(expected)
      }
    }
  })

  it('counts nesting up to the limit it is given, brackets inside strings aside', () => {
    expect(check('['.repeat(512) + ']'.repeat(512))).toBe(DOCUMENT)
    expect(check('['.repeat(513) + ']'.repeat(513))).toBe(TOO_DEEP)
    expect(check('{"a":'.repeat(3) + '1' + '}'.repeat(3), 3)).toBe(DOCUMENT)
    expect(check('{"a":'.repeat(4) + '1' + '}'.repeat(4), 3)).toBe(TOO_DEEP)
    expect(check('[[["[[[[", "]]]]"]]]', 3)).toBe(DOCUMENT)
    // Deeper than the limit after a larger limit was asked for once.
    expect(check('[[[[]]]]', 3)).toBe(TOO_DEEP)
  })

  it('answers as JSON.parse does for 20,000 payloads made by breaking valid ones', () => {
    // Seeded: a failure names a case that can be run again.
    const next = prng(19)
    const alphabet = Buffer.from('{}[]:,"\\ \t\n\r0123456789-+.eEtrufalsn/bux\u0001')
    let documents = 0
    for (let round = 0; round < 20_000; round++) {
      const bytes = [...Buffer.from(SAMPLES[Math.floor(next() * SAMPLES.length)]!)]
      const edits = 1 + Math.floor(next() * 3)
      for (let e = 0; e < edits; e++) {
        const at = Math.floor(next() * (bytes.length + 1))
        const kind = next()
        const byte = next() < 0.05 ? Math.floor(next() * 256) : alphabet[Math.floor(next() * alphabet.length)]!
        if (kind < 0.4) bytes.splice(at, 0, byte)
        else if (kind < 0.7) bytes.splice(at, 1)
        else bytes[Math.min(at, bytes.length - 1)] = byte
      }
      const payload = Buffer.from(bytes)
      const expected = parsesAsDocument(payload) ? DOCUMENT : NOT_A_DOCUMENT
      if (expected === DOCUMENT) documents++
      expect(check(payload), `round ${round}: ${JSON.stringify(payload.toString('latin1'))}`).toBe(expected)
    }
    // Enough of the broken payloads are still JSON for both answers to be tried.
    expect(documents).toBeGreaterThan(1000)
  })
})
