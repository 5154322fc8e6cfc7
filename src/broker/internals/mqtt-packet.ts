import type { Client } from 'aedes'
import { createRequire } from 'node:module'
import type { Writable } from 'node:stream'
import { hasMethod, hasOwn, protoOf, type Point } from './points.js'

/** The packet an mqtt-packet parser is reading, as far as it has read it. */
export interface ParsingPacket {
  cmd?: string
  /** The remaining length from the fixed header. */
  length: number
  will?: { qos?: number; topic?: string } | null
}

/** A check on the remaining length a fixed header announces; an error refuses the packet. */
export type LengthCheck = (packet: ParsingPacket, client: Client | undefined) => Error | undefined

export interface PacketChecks {
  /** On each string as decoded; `raw` gives its bytes. */
  string(text: string, raw: () => Buffer, packet: ParsingPacket): Error | undefined
  /** On a CONNECT once its fields are read. */
  connect(packet: ParsingPacket): Error | undefined
}

const LENGTH_CHECK = Symbol('switchyard.length-check')
const PACKET_CHECKS = Symbol('switchyard.packet-checks')

/** The methods of bl's BufferList that mqtt-packet's parser calls on `_list`. */
const LIST_METHODS = ['append', 'consume', 'readUInt8', 'readUInt16BE', 'readUInt32BE', 'slice', 'toString'] as const

interface BufferList {
  length: number
  slice(start: number, end: number): Buffer
}

/** bl's BufferList as the reads below use it: `_bufs`, its chunks, the first one first. */
interface BlBufferList extends BufferList {
  _bufs: Buffer[]
  readUInt8(offset?: number): number
  readUInt16BE(offset?: number): number
  readUInt32BE(offset?: number): number
  toString(encoding?: BufferEncoding, start?: number, end?: number): string
}

/** What Aedes keeps of a connection's MQTT parser: mqtt-packet 9.0's Parser (parser.js). */
interface Parser {
  packet: ParsingPacket
  error: Error | null
  _pos: number
  _list: BufferList
  /** The CONNECT once read (`_parseConnect`); until then the parser's options. */
  settings: { protocolVersion?: number; bridgeMode?: boolean }
  _states: string[]
  /** Aedes hangs its client on the parser. */
  client?: Client
  _parseLength(): boolean
  _parseString(): string | null
  _parseConnect(): unknown
  _emitError(err: Error): void
  [LENGTH_CHECK]?: LengthCheck
  [PACKET_CHECKS]?: PacketChecks
}

/**
 * bl's BufferList, from the `bl` that the mqtt-packet Aedes loads depends
 * on: the buffer list of bl's BufferListStream without the stream.
 */
const PlainBufferList = (() => {
  const fromAedes = createRequire(createRequire(import.meta.url).resolve('aedes'))
  const bl = createRequire(fromAedes.resolve('mqtt-packet'))('bl') as { BufferList?: new () => BlBufferList }
  return bl.BufferList
})()

/**
 * bl's BufferList, with the reads that fall within its first chunk served
 * from that chunk. bl reads a number by slicing it out first (`readUInt8(i)`
 * is `slice(i, i + 1).readUInt8(0)`), and finds where each read starts with
 * a new array: for a PUBLISH, six Buffers and seven arrays made and dropped
 * for its header byte, remaining length, topic and message id, which the
 * parser reads at the start of one chunk nearly always. A read that spans
 * two chunks or passes the end is bl's own, errors included.
 */
export const FirstChunkBufferList = PlainBufferList && class FirstChunkBufferList extends PlainBufferList {
  override readUInt8(offset = 0): number {
    const first = this._bufs[0]
    return first !== undefined && offset >= 0 && offset < first.length ? first[offset]! : super.readUInt8(offset)
  }

  override readUInt16BE(offset = 0): number {
    const first = this._bufs[0]
    return first !== undefined && offset >= 0 && offset + 2 <= first.length ? first.readUInt16BE(offset) : super.readUInt16BE(offset)
  }

  override readUInt32BE(offset = 0): number {
    const first = this._bufs[0]
    return first !== undefined && offset >= 0 && offset + 4 <= first.length ? first.readUInt32BE(offset) : super.readUInt32BE(offset)
  }

  /** A view of the first chunk, as bl gives (the chunk itself when it is the whole list). */
  override slice(start: number, end: number): Buffer {
    const first = this._bufs[0]
    if (first === undefined || !(start >= 0 && start < end && end <= first.length)) return super.slice(start, end)
    return start === 0 && end === this.length && this._bufs.length === 1 ? first : first.subarray(start, end)
  }

  override toString(encoding?: BufferEncoding, start?: number, end?: number): string {
    const first = this._bufs[0]
    if (first !== undefined && start !== undefined && end !== undefined && start >= 0 && start < end && end <= first.length) return first.toString(encoding, start, end)
    return super.toString(encoding, start, end)
  }
}

/** mqtt-packet's own steps, from the Parser prototype. */
let original: Parser | undefined

/** The connection's parser, which Aedes keeps as `client._parser` (lib/client.js). */
function parserOf(client: Client): Parser | undefined {
  return (client as unknown as { _parser?: Parser })._parser
}

/**
 * Makes the client's parser run `check` as soon as a fixed header's
 * remaining length is read, before any of the packet is buffered.
 * mqtt-packet reads it in `_parseLength`, a step its `parse` calls by name
 * (`this[this._states[i]]()`), so that step is wrapped on this connection's
 * parser only. Once per parser: a second call changes nothing.
 */
export function checkPacketLength(client: Client, check: LengthCheck): void {
  const parser = parserOf(client)
  if (!parser || parser[LENGTH_CHECK]) return
  parser[LENGTH_CHECK] = check
  original ??= protoOf(parser) as Parser
  // One function for every connection; what it needs hangs on the parser.
  parser._parseLength = checkedLength
}

/**
 * Makes the client's parser run `checks` on each string it decodes (topics,
 * filters, client ids, user names: `_parseString`) and on each CONNECT once
 * read (`_parseConnect`), and refuse the packet when one gives an error; the
 * connection is then closed as for any malformed packet. Once per parser.
 */
export function checkPackets(client: Client, checks: PacketChecks): void {
  const parser = parserOf(client)
  if (!parser || parser[PACKET_CHECKS]) return
  parser[PACKET_CHECKS] = checks
  original ??= protoOf(parser) as Parser
  // The same three functions for every connection: nothing is made per connection.
  parser._parseString = checkedString
  parser._parseConnect = checkedConnect
  parser._emitError = firstError
}

/**
 * Gives the client's parser a plain buffer list. mqtt-packet keeps the
 * bytes of a packet not yet complete in a bl BufferListStream (parser.js,
 * `_resetState`): a Duplex stream, with its two stream states, listeners
 * and arrays, about 1 KB for every connection, of which the parser only
 * ever calls the buffer list's methods (LIST_METHODS). bl's BufferList has
 * them without the stream. Before the first bytes are parsed only.
 */
export function plainBufferList(client: Client): void {
  const parser = parserOf(client)
  if (!parser || parser._list.length > 0) return
  parser._list = new FirstChunkBufferList!()
}

/**
 * Lets the client's parser forget the CONNECT, which mqtt-packet keeps as
 * `settings` for the connection's life (parser.js, `_parseConnect`) only to
 * read its protocol version and bridge flag while parsing later packets:
 * with it, the client's password, will and the packet object itself. Call
 * once the CONNECT is read.
 */
export function forgetConnect(client: Client): void {
  const parser = parserOf(client)
  if (!parser) return
  const { protocolVersion, bridgeMode } = parser.settings
  parser.settings = bridgeMode === undefined ? { protocolVersion } : { protocolVersion, bridgeMode }
}

function checkedLength(this: Parser): boolean {
  const done = original!._parseLength.call(this)
  if (!done) return done
  const err = this[LENGTH_CHECK]!(this.packet, this.client)
  if (!err) return done
  this._emitError(err)
  return false
}

function checkedString(this: Parser): string | null {
  // The string's bytes follow its two length bytes.
  const start = this._pos + 2
  const text = original!._parseString.call(this)
  if (text !== null && !this.error) {
    const err = this[PACKET_CHECKS]!.string(text, () => this._list.slice(start, this._pos), this.packet)
    // The parse goes on to the end of the packet, which is then dropped (the parser stops at an error).
    if (err) this._emitError(err)
  }
  return text
}

function checkedConnect(this: Parser): unknown {
  const result = original!._parseConnect.call(this)
  if (!this.error) {
    const err = this[PACKET_CHECKS]!.connect(this.packet)
    if (err) this._emitError(err)
  }
  return result
}

/** One error per packet: the parse that goes on after it may find more. */
function firstError(this: Parser, err: Error): void {
  if (!this.error) original!._emitError.call(this, err)
}

/**
 * Asks `flushFirst` each time a packet is about to be written to `conn`,
 * and when it answers yes, sends what the stream holds before the packet is
 * written. mqtt-packet's writeToStream corks the stream first thing for
 * every packet it writes, and uncorks it on the next tick (writeToStream.js,
 * `generate`): the stream's cork marks that moment. Returns the function
 * that sends: what the stream holds leaves now, and it is corked again as
 * deeply as it was.
 */
export function flushBeforeEachPacket(conn: Writable, flushFirst: (conn: Writable) => boolean): () => void {
  const cork = conn.cork
  const uncork = conn.uncork
  const send = () => {
    // Every level: each packet written earlier in this tick holds one
    // until its uncork runs.
    const levels = conn.writableCorked
    for (let i = 0; i < levels; i++) uncork.call(conn)
    for (let i = 0; i < levels; i++) cork.call(conn)
  }
  conn.cork = function corkFlushingFirst(this: Writable) {
    if (flushFirst(this)) send()
    cork.call(this)
  }
  return send
}

const parser = (client: object) => (client as { _parser?: unknown })._parser
const steps = (client: object) => protoOf(parser(client))

export const MQTT_PACKET_POINTS: readonly Point[] = [
  { name: 'Client#_parser (an mqtt-packet Parser whose `client` is the client)', present: ({ client }) => hasOwn(client, '_parser', 'object') && (parser(client) as Parser).client === client },
  { name: 'Parser.prototype._parseLength(), called by name from Parser#_states', present: ({ client }) => hasMethod(steps(client), '_parseLength', 0) && ((parser(client) as Parser)._states?.includes('_parseLength') ?? false) },
  { name: 'Parser.prototype._parseString(maybeBuffer)', present: ({ client }) => hasMethod(steps(client), '_parseString', 1) },
  { name: 'Parser.prototype._parseConnect()', present: ({ client }) => hasMethod(steps(client), '_parseConnect', 0) },
  { name: 'Parser.prototype._emitError(err)', present: ({ client }) => hasMethod(steps(client), '_emitError', 1) },
  { name: 'Parser#_list.slice(start, end)', present: ({ client }) => hasOwn(parser(client), '_list', 'object') && hasMethod((parser(client) as Parser)._list, 'slice', 2) },
  {
    name: `Parser#_list, a bl BufferList (${LIST_METHODS.join(', ')}, length), and bl's BufferList beside it`,
    present: ({ client }) => {
      const list = (parser(client) as Parser | undefined)?._list as Record<string, unknown> | undefined
      return typeof PlainBufferList === 'function' && typeof list?.length === 'number' && LIST_METHODS.every((m) => typeof list[m] === 'function' && typeof (PlainBufferList.prototype as Record<string, unknown>)[m] === 'function')
    },
  },
  { name: "bl's BufferList#_bufs, its chunks in order (an array)", present: () => typeof PlainBufferList === 'function' && Array.isArray(new PlainBufferList()._bufs) },
  { name: 'Parser#settings', present: ({ client }) => hasOwn(parser(client), 'settings', 'object') },
  { name: 'Parser#packet', present: ({ client }) => hasOwn(parser(client), 'packet', 'object') },
  { name: 'Parser#error', present: ({ client }) => Object.hasOwn((parser(client) as object | undefined) ?? {}, 'error') },
]
