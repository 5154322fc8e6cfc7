import type { Client } from 'aedes'
import { isUtf8 } from 'node:buffer'
import { invalidTopicName } from '../topics/match.js'
import { checkPackets, type PacketChecks } from './internals/index.js'

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
 * The checks run on this connection's parser only, as
 * `Limits.guardPacketSize` does.
 */
export function guardPackets(client: Client): void {
  checkPackets(client, CHECKS)
}

// The same checks for every connection: nothing is made per connection.
const CHECKS: PacketChecks = {
  string(text, raw, packet) {
    const problem = stringProblem(text, raw)
    return problem ? new Error(`${(packet.cmd ?? 'packet').toUpperCase()} holds ${problem}; closing the connection`) : undefined
  },
  connect(packet) {
    const will = packet.will
    if (!will) return undefined
    if ((will.qos ?? 0) > 2) return new Error('CONNECT asks for a will at QoS 3 [MQTT-3.1.2-14]; closing the connection')
    const invalid = invalidTopicName(will.topic ?? '')
    return invalid ? new Error(`CONNECT has an invalid will topic: ${invalid}; closing the connection`) : undefined
  },
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
