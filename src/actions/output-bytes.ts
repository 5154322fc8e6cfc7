import { isUtf8 } from 'node:buffer'

/*
 * `SELECT *` of a payload that is not JSON outputs the payload's own bytes
 * (a Buffer; see sql/select.ts). Actions that send bytes (republish, http)
 * send them unchanged; where only JSON can go (a stored event, a function's
 * event, the outbox), they travel as their base64, the string
 * `encode(*, 'base64')` gives: AWS' Lambda action, likewise, takes a
 * binary payload only "base64 encoded and in a JSON payload"
 * (developerguide/binary-payloads.md).
 */

/** The SELECT output where only JSON can go: bytes as their base64, anything else as it is. */
export function jsonOutput(output: unknown): unknown {
  return Buffer.isBuffer(output) ? output.toString('base64') : output
}

/**
 * Bytes as a dry run shows them, under `name`: as text when they are
 * UTF-8, else in base64 with `{name}Encoding: 'base64'` beside, so that
 * bytes that are not text still read as what was sent.
 */
export function describeBytes(name: string, bytes: Buffer): Record<string, string> {
  return isUtf8(bytes) ? { [name]: bytes.toString('utf8') } : { [name]: bytes.toString('base64'), [`${name}Encoding`]: 'base64' }
}
