/** One message as the SQL sees it. Built once per message and shared by every rule it matches. */
export interface SqlContext {
  /** The payload as published. */
  payload: Buffer | Uint8Array
  /** The topic it was published to; `topic()` and `topic(n)` read it. */
  topic: string
  /** The publishing client's id; `clientid()` answers "n/a" when there is none (a broker-made message). */
  clientId: string | undefined
  /** The publisher's username; `principal()` falls back to the client id. */
  principal?: string | undefined
  /** When the message arrived, ms since the epoch; `timestamp()` answers it. */
  timestamp: number
  /**
   * The payload parsed as JSON, so that it is parsed once per message, not
   * once per rule. Leave it undefined and `run` (or a template) parses the
   * payload and stores the result here for the next rule. A caller that has
   * parsed the payload already may set it: the JSON object or array, or
   * `null` for a payload that is not one (it is then binary to the SQL).
   * Treat the value as read-only: `SELECT *` hands it on as the output.
   */
  parsed?: unknown
}

/**
 * The document that field names are looked up in: the payload's JSON object
 * or array, or undefined when the payload is not JSON. Only an object or an
 * array counts as a JSON payload; AWS treats a bare `80` or `"text"` as
 * binary (see the WHERE clause and binary payload pages), to be read with
 * `decode(encode(*, 'base64'), 'base64')`.
 */
export function documentOf(ctx: SqlContext): unknown {
  let parsed = ctx.parsed
  if (parsed === undefined) {
    parsed = parseDocument(ctx.payload)
    ctx.parsed = parsed
  }
  return typeof parsed === 'object' ? (parsed ?? undefined) : undefined
}

function parseDocument(payload: Buffer | Uint8Array): object | null {
  // Skip leading white space and look at the first byte: anything but
  // { or [ is not a JSON document, and needs no attempt to parse.
  let i = 0
  while (i < payload.length && (payload[i] === 32 || payload[i] === 9 || payload[i] === 10 || payload[i] === 13)) i++
  const first = payload[i]
  if (first !== 123 /* { */ && first !== 91 /* [ */) return null
  try {
    const value: unknown = JSON.parse(asBuffer(payload).toString('utf8'))
    return typeof value === 'object' ? value : null
  } catch {
    return null
  }
}

/**
 * The raw payload in base64: what `*` is, within an expression, when the
 * payload is not JSON, and what `encode(*, 'base64')` always is.
 */
export function payloadBase64(ctx: SqlContext): string {
  return asBuffer(ctx.payload).toString('base64')
}

/** The raw payload as a Buffer (not a copy): what `SELECT *` gives when the payload is not JSON. */
export function payloadBytes(ctx: SqlContext): Buffer {
  return asBuffer(ctx.payload)
}

/** A Buffer view of the payload, without copying it. */
function asBuffer(payload: Buffer | Uint8Array): Buffer {
  return Buffer.isBuffer(payload) ? payload : Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength)
}
