import { Aedes, type Client } from 'aedes'
import mqttPacket from 'mqtt-packet'
import { once } from 'node:events'
import { Duplex, Writable } from 'node:stream'
import { afterEach, describe, expect, it } from 'vitest'
import { checkPacketLength, checkPackets, flushBeforeEachPacket, forgetConnect, plainBufferList, type PacketChecks, type ParsingPacket } from './index.js'
import { FirstChunkBufferList } from './mqtt-packet.js'

// Contract tests: each checks that the installed mqtt-packet (through the
// parser Aedes gives every connection) still has a private part that
// src/broker/internals uses, and still behaves as the code there assumes.

const brokers: Aedes[] = []
afterEach(async () => {
  for (const broker of brokers.splice(0)) await new Promise<void>((resolve) => broker.close(() => resolve()))
})

/** A client of a real Aedes on a stream that takes what it is sent; `send` feeds it bytes. */
async function connection(): Promise<{ broker: Aedes; client: Client; send(bytes: Buffer): void }> {
  const broker = await Aedes.createBroker()
  brokers.push(broker)
  const stream = new Duplex({ read() {}, write: (_chunk, _encoding, callback) => callback() })
  return { broker, client: broker.handle(stream), send: (bytes) => stream.push(bytes) }
}

const generate = (packet: object) => mqttPacket.generate(packet as mqttPacket.Packet)
const CONNECT = { cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clientId: 'c1', clean: true, keepalive: 0 }
const NO_CHECKS: PacketChecks = { string: () => undefined, connect: () => undefined }

/** The first `clientError` or `connectionError` of the broker (the latter before the client has an id). */
function firstError(broker: Aedes): Promise<Error> {
  return new Promise((resolve) => {
    broker.once('clientError', (_client, err) => resolve(err))
    broker.once('connectionError', (_client, err) => resolve(err))
  })
}

describe('mqtt-packet, the parser Aedes gives each connection', () => {
  it('Client#_parser: Aedes parses a connection with an mqtt-packet Parser whose `client` is the connection\'s client', async () => {
    const { broker, client, send } = await connection()
    const seen: Array<[string | undefined, Client | undefined]> = []
    checkPacketLength(client, (packet, owner) => {
      seen.push([packet.cmd, owner])
      return undefined
    })
    const ready = once(broker, 'clientReady')
    send(generate(CONNECT))
    await ready
    expect(seen).toEqual([['connect', client]])
  })

  it('Parser#_parseLength: the step, called by name, that reads the remaining length before the body arrives; an error there refuses the packet', async () => {
    const { broker, client, send } = await connection()
    const lengths: Array<[string | undefined, number]> = []
    checkPacketLength(client, (packet) => {
      lengths.push([packet.cmd, packet.length])
      return packet.length > 1000 ? new Error('too large') : undefined
    })
    const connect = generate(CONNECT)
    const ready = once(broker, 'clientReady')
    send(connect)
    await ready
    const failed = firstError(broker)
    // The fixed header of a PUBLISH of 16,383 bytes, and none of its body.
    send(Buffer.from([0x30, 0xff, 0x7f]))
    expect((await failed).message).toBe('too large')
    expect(lengths).toEqual([['connect', connect.length - 2], ['publish', 16_383]])
  })

  it('Parser#_parseString: each string goes through it, its bytes start two length bytes past _pos in _list; an error refuses the packet', async () => {
    const { broker, client, send } = await connection()
    const strings: Array<[string | undefined, string, string]> = []
    checkPackets(client, {
      ...NO_CHECKS,
      string(text, raw, packet) {
        strings.push([packet.cmd, text, raw().toString('hex')])
        return text === 'bad' ? new Error('a bad string') : undefined
      },
    })
    const ready = once(broker, 'clientReady')
    send(generate(CONNECT))
    await ready
    const subscribed = once(broker, 'subscribe')
    send(generate({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'a/b', qos: 0 }, { topic: '\u00e9', qos: 1 }] }))
    await subscribed
    const failed = firstError(broker)
    send(generate({ cmd: 'subscribe', messageId: 2, subscriptions: [{ topic: 'bad', qos: 0 }] }))
    expect((await failed).message).toBe('a bad string')
    expect(client.closed).toBe(true)
    const hex = (s: string) => Buffer.from(s).toString('hex')
    expect(strings).toEqual([
      ['connect', 'MQTT', hex('MQTT')], ['connect', 'c1', hex('c1')],
      ['subscribe', 'a/b', hex('a/b')], ['subscribe', '\u00e9', 'c3a9'],
      ['subscribe', 'bad', hex('bad')],
    ])
  })

  it('Parser#_parseConnect: once it has read a CONNECT, the will is on `packet`; an error there refuses the CONNECT', async () => {
    const { broker, client, send } = await connection()
    const wills: Array<ParsingPacket['will']> = []
    checkPackets(client, {
      ...NO_CHECKS,
      connect(packet) {
        wills.push(packet.will)
        return new Error('no wills here')
      },
    })
    const failed = firstError(broker)
    send(generate({ ...CONNECT, will: { topic: 'wills/c1', payload: Buffer.from('gone'), qos: 1, retain: false } }))
    expect((await failed).message).toBe('no wills here')
    expect(wills).toMatchObject([{ topic: 'wills/c1', qos: 1 }])
    expect(broker.connectedClients).toBe(0)
  })

  it('Parser#_emitError and #error: the parse goes on to the end of a packet after an error; with the checks in place it reports the first one only', async () => {
    // Without the checks, as the reason for the first-error rule: mqtt-packet
    // reports both strings of this SUBSCRIBE when each fails.
    const subscribe = generate({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'x/1', qos: 0 }, { topic: 'x/2', qos: 0 }] })
    const bare = mqttPacket.parser() as mqttPacket.Parser & { _parseString(): string | null; _emitError(err: Error): void; error: Error | null }
    const parseString = bare._parseString
    bare._parseString = function (this: typeof bare) {
      const text = parseString.call(this)
      this._emitError(new Error(`bad ${text}`))
      return text
    }
    const bareErrors: string[] = []
    bare.on('error', (err: Error) => bareErrors.push(err.message))
    bare.parse(subscribe)
    expect(bareErrors).toEqual(['bad x/1', 'bad x/2'])
    expect(bare.error?.message).toBe('bad x/2')

    const { broker, client, send } = await connection()
    checkPackets(client, { ...NO_CHECKS, string: (text) => (text.startsWith('x/') ? new Error(`bad ${text}`) : undefined) })
    const ready = once(broker, 'clientReady')
    send(generate(CONNECT))
    await ready
    const errors: string[] = []
    broker.on('clientError', (_client, err) => errors.push(err.message))
    const failed = firstError(broker)
    send(subscribe)
    await failed
    // The parse of that packet ran to its end in the same call.
    expect(errors).toEqual(['bad x/1'])
  })
})

describe('mqtt-packet, what the parser keeps between packets', () => {
  const parserOf = (client: Client) => (client as unknown as { _parser: { _list: object; settings: object } })._parser

  it('Parser#_list: a bl BufferListStream, which plainBufferList replaces with a BufferList that parses packets split anywhere and packets sharing a chunk', async () => {
    const { broker, client, send } = await connection()
    expect(parserOf(client)._list).toHaveProperty('_writableState')
    plainBufferList(client)
    const list = parserOf(client)._list
    expect(list).not.toHaveProperty('_writableState')
    const packets: Array<{ topic: string; payload: Buffer | string }> = []
    broker.on('publish', (packet, from) => {
      if (from === client) packets.push(packet)
    })
    const ready = once(broker, 'clientReady')
    const connect = generate(CONNECT)
    send(connect.subarray(0, 3))
    send(connect.subarray(3))
    await ready
    const publish = (n: number) => generate({ cmd: 'publish', topic: `t/${n}`, payload: Buffer.alloc(200, n), qos: 0, retain: false, dup: false })
    const both = Buffer.concat([publish(1), publish(2), publish(3)])
    const published = new Promise<void>((resolve) => broker.on('publish', () => packets.length === 3 && resolve()))
    // One byte of the fixed header, the rest of the first packet and half the second, the others.
    send(both.subarray(0, 1))
    send(both.subarray(1, 300))
    send(both.subarray(300))
    await published
    expect(packets.map((p) => [p.topic, p.payload.length])).toEqual([['t/1', 200], ['t/2', 200], ['t/3', 200]])
    // The same list all along, empty between packets.
    expect(parserOf(client)._list).toBe(list)
    expect(parserOf(client)._list).toHaveProperty('length', 0)
  })

  it('FirstChunkBufferList: every read the parser makes answers as bl\'s BufferList does, or throws the same error, however the bytes came in chunks', () => {
    type List = { length: number; _bufs: Buffer[]; append(b: Buffer): unknown; consume(n: number): unknown; [read: string]: unknown }
    const Bl = Object.getPrototypeOf(FirstChunkBufferList!.prototype).constructor as new () => List
    const bytes = Buffer.from(Array.from({ length: 48 }, (_, i) => (i * 37 + 11) & 0xff))
    bytes.write('héllo wörld', 20, 'utf8')
    let seed = 7
    const random = (n: number) => (seed = (seed * 1103515245 + 12345) % 2 ** 31) % n
    const outcome = (read: () => unknown) => {
      try {
        const value = read()
        return Buffer.isBuffer(value) ? { bytes: [...value] } : { value }
      } catch (err) {
        return { error: `${(err as Error).name} ${(err as NodeJS.ErrnoException).code} ${(err as Error).message}` }
      }
    }
    let compared = 0
    for (let round = 0; round < 200; round++) {
      const ours = new FirstChunkBufferList!() as unknown as List
      const bl = new Bl()
      for (let at = 0; at < bytes.length;) {
        const next = Math.min(bytes.length, at + 1 + random(12))
        ours.append(bytes.subarray(at, next))
        bl.append(bytes.subarray(at, next))
        at = next
      }
      const consumed = random(8)
      ours.consume(consumed)
      bl.consume(consumed)
      for (let offset = -1; offset <= ours.length + 1; offset++) {
        for (const read of ['readUInt8', 'readUInt16BE', 'readUInt32BE'] as const) {
          expect(outcome(() => (ours[read] as (o: number) => number)(offset)), `${read}(${offset})`).toEqual(outcome(() => (bl[read] as (o: number) => number)(offset)))
        }
        for (const end of [offset, offset + 1, offset + 2, offset + 5, ours.length, ours.length + 1]) {
          expect(outcome(() => (ours.slice as (s: number, e: number) => Buffer)(offset, end)), `slice(${offset}, ${end})`).toEqual(outcome(() => (bl.slice as (s: number, e: number) => Buffer)(offset, end)))
          expect(outcome(() => (ours.toString as (e: string, s: number, t: number) => string)('utf8', offset, end)), `toString(${offset}, ${end})`).toEqual(outcome(() => (bl.toString as (e: string, s: number, t: number) => string)('utf8', offset, end)))
          compared++
        }
      }
      // The whole list, when it is one chunk, is that chunk, as bl gives it.
      if (ours._bufs.length === 1) expect((ours.slice as (s: number, e: number) => Buffer)(0, ours.length)).toBe(ours._bufs[0])
    }
    expect(compared).toBeGreaterThan(10_000)
  })

  it('Parser#settings: the CONNECT, password and will included, which forgetConnect reduces to its protocol version; later packets parse as before', async () => {
    const { broker, client, send } = await connection()
    const ready = once(broker, 'clientReady')
    send(generate({ ...CONNECT, username: 'u', password: Buffer.from('secret'), will: { topic: 'wills/c1', payload: Buffer.from('gone'), qos: 0, retain: false } }))
    await ready
    expect(parserOf(client).settings).toMatchObject({ cmd: 'connect', protocolVersion: 4, password: Buffer.from('secret'), will: { topic: 'wills/c1' } })
    forgetConnect(client)
    expect(parserOf(client).settings).toEqual({ protocolVersion: 4 })
    const subscribed = once(broker, 'subscribe')
    send(generate({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'a/b', qos: 1 }] }))
    const [subscriptions] = await subscribed as [Array<{ topic: string; qos: number }>]
    expect(subscriptions).toEqual([{ topic: 'a/b', qos: 1 }])
  })
})

describe('mqtt-packet, writeToStream', () => {
  it('corks the stream first thing for every packet it writes, and uncorks it on the next tick', async () => {
    const batches: number[] = []
    const stream = new Writable({
      write: (_chunk, _encoding, callback) => (batches.push(1), callback()),
      writev: (chunks, callback) => (batches.push(chunks.length), callback()),
    })
    const lengths: number[] = []
    flushBeforeEachPacket(stream, (s) => (lengths.push(s.writableLength), false))
    const packets = [10, 20, 30].map((n) => ({ cmd: 'publish' as const, topic: 't', payload: Buffer.alloc(n), qos: 0 as const, retain: false, dup: false }))
    const sizes = packets.map((p) => mqttPacket.generate(p).length)
    for (const packet of packets) mqttPacket.writeToStream(packet, stream)
    // Before each packet's first byte: what the packets before it wrote is all there is.
    expect(lengths).toEqual([0, sizes[0], sizes[0]! + sizes[1]!])
    expect(stream.writableCorked).toBe(3)
    expect(batches).toEqual([])
    await new Promise((resolve) => process.nextTick(resolve))
    expect(stream.writableCorked).toBe(0)
    // All three packets, in their several chunks, in one batch.
    expect(batches).toHaveLength(1)
    expect(stream.writableLength).toBe(0)
  })
})
