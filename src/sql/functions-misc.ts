import { createHash, randomUUID } from 'node:crypto'
import { payloadBase64, type SqlContext } from './context.js'
import { contextual, pure1, pure2, type CallSite, type FunctionDef } from './function-def.js'
import { elementOf, toFlooredInt, toText } from './values.js'

/*
 * Functions about the message (clientid(), topic(), timestamp() ...),
 * encodings, hashes, and the Null/Undefined helpers
 * (developerguide/iot-sql-functions.md).
 */

/** Segment `n` (1-based) of a topic, found without splitting the topic into an array. */
export function topicSegment(topic: string, n: number): string | undefined {
  if (n < 1) return undefined
  let start = 0
  for (let i = 1; i < n; i++) {
    const slash = topic.indexOf('/', start)
    if (slash < 0) return undefined
    start = slash + 1
  }
  const end = topic.indexOf('/', start)
  return end < 0 ? topic.slice(start) : topic.slice(start, end)
}

/** topic() is the whole topic; topic(n) its n-th level, counting from 1. */
const topic: FunctionDef = {
  arity: [0, 1],
  pure: false,
  build([n], site) {
    if (!n) return (_doc, ctx) => ctx.topic
    const node = site.nodes[0]!
    if (node.k === 'literal') {
      const fixed = toFlooredInt(node.value)
      if (fixed === undefined) return () => undefined
      return (_doc, ctx) => topicSegment(ctx.topic, fixed)
    }
    return (doc, ctx) => {
      const i = toFlooredInt(n(doc, ctx))
      return i === undefined ? undefined : topicSegment(ctx.topic, i)
    }
  },
}

/** The scheme argument of encode()/decode(): only 'base64' exists, checked at load when it is a literal. */
function checkScheme(site: CallSite): void {
  const node = site.nodes[1]!
  if (node.k === 'literal' && node.value !== 'base64') {
    site.fail("the encoding 'base64'", JSON.stringify(node.value), 1)
  }
}

/**
 * encode(value, 'base64'): `*` encodes the payload's raw bytes, JSON or
 * not; any other value is converted to a string and its UTF-8 encoded.
 */
const encode: FunctionDef = {
  arity: [2, 2],
  pure: false,
  build([value, scheme], site) {
    checkScheme(site)
    if (site.nodes[0]!.k === 'star') {
      return (doc, ctx) => (scheme!(doc, ctx) === 'base64' ? payloadBase64(ctx) : undefined)
    }
    return (doc, ctx) => {
      const text = toText(value!(doc, ctx))
      if (text === undefined || scheme!(doc, ctx) !== 'base64') return undefined
      return Buffer.from(text, 'utf8').toString('base64')
    }
  },
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/

/**
 * decode(value, 'base64'): the decoded text, or the JSON value it holds
 * when it is JSON (the WHERE clause page decodes "80" and compares it with
 * 50). Null when the value is not base64.
 */
export function decodeBase64(value: unknown): unknown {
  if (typeof value !== 'string') return undefined
  if (value.length % 4 !== 0 || !BASE64.test(value)) return null
  const text = Buffer.from(value, 'base64').toString('utf8')
  try {
    return JSON.parse(text) as unknown
  } catch {
    return text
  }
}

const decode: FunctionDef = {
  arity: [2, 2],
  pure: true,
  build([value, scheme], site) {
    checkScheme(site)
    return (doc, ctx) => (scheme!(doc, ctx) === 'base64' ? decodeBase64(value!(doc, ctx)) : undefined)
  },
}

/** The hashes the AWS list names (md2 is not available in Node's OpenSSL), as lower-case hex of the UTF-8 string. */
function hash(algorithm: string): FunctionDef {
  return pure1((a) => {
    const text = toText(a)
    return text === undefined ? undefined : createHash(algorithm).update(text, 'utf8').digest('hex')
  })
}

/** nanvl(a, b): b when a is Undefined, Null or NaN; otherwise a. */
function nanvl(a: unknown, b: unknown): unknown {
  return a === undefined || a === null || (typeof a === 'number' && Number.isNaN(a)) ? b : a
}

/** get_or_default(expr, default): the default when the expression is Undefined or Null. */
function getOrDefault(a: unknown, b: unknown): unknown {
  return a === undefined || a === null ? b : a
}

export const MISC_FUNCTIONS: Record<string, FunctionDef> = {
  // [AWS clientid()] "n/a" when the message did not come from an MQTT client
  clientid: contextual((ctx: SqlContext) => ctx.clientId ?? 'n/a'),
  principal: contextual((ctx: SqlContext) => ctx.principal ?? ctx.clientId),
  timestamp: contextual((ctx: SqlContext) => ctx.timestamp),
  topic,
  newuuid: contextual(() => randomUUID()),
  rand: contextual(() => Math.random()),
  sql_version: { arity: [0, 0], pure: true, build: () => () => '2016-03-23' },
  encode,
  decode,
  get: pure2(elementOf),
  get_or_default: pure2(getOrDefault),
  nanvl: pure2(nanvl),
  isnull: pure1((a) => a === null),
  isundefined: pure1((a) => a === undefined),
  md5: hash('md5'),
  sha1: hash('sha1'),
  sha224: hash('sha224'),
  sha256: hash('sha256'),
  sha384: hash('sha384'),
  sha512: hash('sha512'),
}
