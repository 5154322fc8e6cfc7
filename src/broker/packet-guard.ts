import type { Client } from 'aedes'
import { isUtf8 } from 'node:buffer'
import { invalidTopicName } from '../topics/match.js'

/** What Aedes keeps of a connection's MQTT parser (mqtt-packet's Parser). */
interface PacketParser {
  packet: { cmd?: string; will?: { qos?: number; topic?: string } | null }
  error: Error | null
  _pos: number
  _list: { slice(start: number, end: number): Buffer }
  _parseString(): string | null
  _parseConnect(): unknown
  _emitError(err: Error): void
}

const guarded = Symbol('switchyard.packet-guard')

/**
 * Makes a connection's parser refuse packets that break rules of MQTT 3.1.1
 * that neither mqtt-packet nor Aedes checks, before Aedes sees them; the
 * connection is then closed as for any malformed packet.
 *
 * - Strings (topics, filters, client ids, user names) must be well-formed
 *   UTF-8 [MQTT-1.5.3-1] without U+0000 [MQTT-1.5.3-2]. mqtt-packet decodes
 *   them with Buffer#toString, which turns bad bytes into U+FFFD and lets
 *   U+0000 through.
 * - Nor may they hold control characters or non-characters (MQTT 3.1.1
 *   section 1.5.3: a receiver MAY close the connection). Mosquitto's broker
 *   refuses them and libmosquitto clients disconnect when they receive one:
 *   relayed, one publisher's topic would disconnect every such subscriber,
 *   and a client id would carry them into `$events/...` topics.
 * - A will's QoS must not be 3 [MQTT-3.1.2-14]: Aedes stores such a will,
 *   and fails to send it to a persistent QoS 1/2 subscriber at every
 *   reconnect, which closes that subscriber's connection each time.
 * - A will's topic must be a topic name: not empty, without wildcards
 *   [MQTT-4.7.3-1, MQTT-3.3.2-2], as it is published as it stands.
 *
 * The parser's steps are wrapped on this connection's parser only, as
 * `Limits.guardPacketSize` does.
 */
export function guardPackets(client: Client): void {
  const parser = (client as unknown as { _parser?: PacketParser & { [guarded]?: true } })._parser
  if (!parser || parser[guarded]) return
  parser[guarded] = true
  original ??= Object.getPrototypeOf(parser) as PacketParser
  // The same three functions for every connection: nothing is made per connection.
  parser._parseString = checkedString
  parser._parseConnect = checkedConnect
  parser._emitError = firstError
}

/** mqtt-packet's own steps, from the Parser prototype. */
let original: PacketParser | undefined

function checkedString(this: PacketParser): string | null {
  // The string's bytes follow its two length bytes.
  const start = this._pos + 2
  const text = original!._parseString.call(this)
  if (text !== null && !this.error) {
    const problem = stringProblem(text, () => this._list.slice(start, this._pos))
    // The parse goes on to the end of the packet, which is then dropped (the parser stops at an error).
    if (problem) this._emitError(new Error(`${(this.packet.cmd ?? 'packet').toUpperCase()} holds ${problem}; closing the connection`))
  }
  return text
}

function checkedConnect(this: PacketParser): unknown {
  const result = original!._parseConnect.call(this)
  const will = this.packet.will
  if (!this.error && will) {
    if ((will.qos ?? 0) > 2) this._emitError(new Error('CONNECT asks for a will at QoS 3 [MQTT-3.1.2-14]; closing the connection'))
    else {
      const invalid = invalidTopicName(will.topic ?? '')
      if (invalid) this._emitError(new Error(`CONNECT has an invalid will topic: ${invalid}; closing the connection`))
    }
  }
  return result
}

/** One error per packet: the parse that goes on after it may find more. */
function firstError(this: PacketParser, err: Error): void {
  if (!this.error) original!._emitError.call(this, err)
}

/**
 * Why a decoded MQTT string is refused, or undefined. `raw` gives its bytes,
 * read only when the text holds U+FFFD: a decoding replacement, or a U+FFFD
 * the client really sent.
 */
export function stringProblem(text: string, raw: () => Buffer): string | undefined {
  let replaced = false
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (c >= 0x20 && c < 0x7f) continue
    if (c === 0) return 'U+0000 [MQTT-1.5.3-2]'
    if (c < 0x20 || (c >= 0x7f && c <= 0x9f)) return `the control character U+${hex(c)} (MQTT 3.1.1 section 1.5.3)`
    if ((c >= 0xfdd0 && c <= 0xfdef) || c === 0xfffe || c === 0xffff) return `the non-character U+${hex(c)} (MQTT 3.1.1 section 1.5.3)`
    if (c === 0xfffd) replaced = true
    else if (c >= 0xd800 && c <= 0xdbff) {
      // A pair from decoding: U+1FFFE, U+1FFFF ... U+10FFFF are non-characters too.
      const cp = text.codePointAt(i)!
      if ((cp & 0xfffe) === 0xfffe) return `the non-character U+${hex(cp)} (MQTT 3.1.1 section 1.5.3)`
      i++
    }
  }
  if (replaced && !isUtf8(raw())) return 'bytes that are not well-formed UTF-8 [MQTT-1.5.3-1]'
  return undefined
}

function hex(c: number): string {
  return c.toString(16).toUpperCase().padStart(4, '0')
}
