import { Aedes, type Client } from 'aedes'
import mqttPacket from 'mqtt-packet'
import { once } from 'node:events'
import { createServer, type AddressInfo, type Server } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import { connect, connectWithInbox, end } from '../../test/helpers/mqtt.js'
import { sendRawUntilClosed } from '../../test/helpers/raw.js'
import { createSqlitePersistence, type SqlitePersistence } from '../persistence/index.js'
import { guardPackets, stringProblem } from './packet-guard.js'

const generate = (packet: object) => mqttPacket.generate(packet as mqttPacket.Packet)

/** A PUBLISH whose topic is these raw bytes. */
function publishWithTopic(topic: readonly number[]): Buffer {
  const body = Buffer.from([0, topic.length, ...topic, 0x78])
  return Buffer.concat([Buffer.from([0x30, body.length]), body])
}

/** Feeds bytes to a guarded mqtt-packet parser; returns the packets and errors it gave. */
function parse(...chunks: Buffer[]) {
  const parser = mqttPacket.parser()
  guardPackets({ _parser: parser } as unknown as Client)
  const packets: mqttPacket.Packet[] = []
  const errors: string[] = []
  parser.on('packet', (p: mqttPacket.Packet) => packets.push(p))
  parser.on('error', (err: Error) => errors.push(err.message))
  for (const chunk of chunks) parser.parse(chunk)
  return { packets, errors }
}

const BAD_TOPICS: Record<string, number[]> = {
  'an overlong U+0000': [0x61, 0xc0, 0x80],
  'U+0000': [0x61, 0x00, 0x62],
  'bytes never valid in UTF-8': [0xff, 0xfe],
  'a UTF-16 surrogate': [0x61, 0xed, 0xa0, 0x80],
  'a sequence cut short': [0x61, 0xe2, 0x82],
  'a code point past U+10FFFF': [0xf4, 0x90, 0x80, 0x80],
  'U+0001': [0x61, 0x01],
  'U+001F': [0x61, 0x1f],
  'U+007F': [0x61, 0x7f],
  'U+0085': [0x61, 0xc2, 0x85],
  'U+FDD0': [0x61, 0xef, 0xb7, 0x90],
  'U+FFFF': [0x61, 0xef, 0xbf, 0xbf],
  'U+1FFFF': [0x61, 0xf0, 0x9f, 0xbf, 0xbf],
}

describe('the packet guard, on the parser', () => {
  it.each(Object.entries(BAD_TOPICS))('refuses a topic with %s and drops the packet', (_what, topic) => {
    const { packets, errors } = parse(publishWithTopic(topic))
    expect(packets).toEqual([])
    expect(errors).toHaveLength(1)
    expect(errors[0]).toMatch(/^PUBLISH holds .*; closing the connection$/)
  })

  it('lets well-formed text through: accents, emoji, and a U+FFFD the client really sent', () => {
    const topics = ['sensors/kitchen/temp', 'caf\u00e9/\u00fc', 'emoji/\u{1F600}', 'replacement/\uFFFD', 'tab\u00a0space']
    const { packets, errors } = parse(...topics.map((topic) => generate({ cmd: 'publish', topic, payload: 'x', qos: 0, retain: false, dup: false })))
    expect(errors).toEqual([])
    expect(packets.map((p) => (p as mqttPacket.IPublishPacket).topic)).toEqual(topics)
  })

  it('checks every string: subscription filters, the client id, the user name', () => {
    const subscribe = generate({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'ok/#', qos: 1 }, { topic: 'bad\u0001/#', qos: 0 }] })
    expect(parse(subscribe).errors).toEqual(['SUBSCRIBE holds the control character U+0001 (MQTT 3.1.1 section 1.5.3); closing the connection'])
    const connect = (extra: object) => generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clientId: 'device', clean: true, keepalive: 30, ...extra })
    expect(parse(connect({ clientId: 'dev\u0000ice' })).errors).toEqual(['CONNECT holds U+0000 [MQTT-1.5.3-2]; closing the connection'])
    expect(parse(connect({ username: 'al\u001bice', password: Buffer.from('pw') })).errors).toHaveLength(1)
    expect(parse(connect({})).errors).toEqual([])
  })

  it('refuses a will at QoS 3 or on a topic that is not a topic name', () => {
    const withWill = (topic: string, qos = 1) => {
      const c = generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clientId: 'd', clean: true, keepalive: 30, will: { topic, payload: 'gone', qos: 1, retain: false } })
      if (qos === 3) c[c.indexOf('MQTT') + 5] = c[c.indexOf('MQTT') + 5]! | 0x18
      return c
    }
    expect(parse(withWill('wills/d', 3)).errors).toEqual(['CONNECT asks for a will at QoS 3 [MQTT-3.1.2-14]; closing the connection'])
    expect(parse(withWill('wills/#')).errors).toEqual(['CONNECT has an invalid will topic: a topic name must not contain wildcards; closing the connection'])
    expect(parse(withWill('wills/d')).errors).toEqual([])
    expect(parse(withWill('wills/d')).packets).toHaveLength(1)
  })

  it('reads U+FFFD from the bytes only when decoding produced one', () => {
    let reads = 0
    const raw = (bytes: number[]) => () => {
      reads++
      return Buffer.from(bytes)
    }
    expect(stringProblem('plain/ascii', raw([]))).toBeUndefined()
    expect(reads).toBe(0)
    expect(stringProblem('\uFFFD', raw([0xef, 0xbf, 0xbd]))).toBeUndefined()
    expect(stringProblem('\uFFFD', raw([0xff]))).toBe('bytes that are not well-formed UTF-8 [MQTT-1.5.3-1]')
    expect(reads).toBe(2)
  })
})

describe('the packet guard, in a broker', () => {
  let persistence: SqlitePersistence
  let broker: Aedes
  let server: Server
  let url: string
  afterEach(async () => {
    await new Promise<void>((resolve) => broker.close(() => resolve()))
    server.close()
    await persistence.destroy()
  })

  async function start() {
    persistence = createSqlitePersistence()
    broker = await Aedes.createBroker({ persistence })
    server = createServer((socket) => guardPackets(broker.handle(socket)))
    server.listen(0, '127.0.0.1')
    await once(server, 'listening')
    url = `mqtt://127.0.0.1:${(server.address() as AddressInfo).port}`
  }

  const sendRaw = (bytes: Buffer) => sendRawUntilClosed((server.address() as AddressInfo).port, bytes)

  it('closes the publisher of a bad topic and relays nothing of it', async () => {
    await start()
    const { client: watcher, inbox } = await connectWithInbox(url, { clientId: 'watcher' })
    await watcher.subscribeAsync('#')
    const connectPacket = generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clientId: 'bad', clean: true, keepalive: 30 })
    for (const topic of Object.values(BAD_TOPICS)) await sendRaw(Buffer.concat([connectPacket, publishWithTopic(topic)]))
    await watcher.publishAsync('after', 'ok')
    await inbox.on('after')
    expect(inbox.messages.map((m) => m.topic)).toEqual(['after'])
    await end(watcher)
  })

  it('keeps a will at QoS 3 from reaching a persistent subscriber', async () => {
    await start()
    const keeper = await connect(url, { clientId: 'keeper', clean: false })
    await keeper.subscribeAsync('wills/#', { qos: 2 })
    await end(keeper)
    const bad = generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clientId: 'd', clean: true, keepalive: 30, will: { topic: 'wills/d', payload: 'gone', qos: 1, retain: false } })
    bad[bad.indexOf('MQTT') + 5] = bad[bad.indexOf('MQTT') + 5]! | 0x18
    await sendRaw(bad)
    // Back, the keeper stays connected and still gets what is published.
    const { client: back, inbox } = await connectWithInbox(url, { clientId: 'keeper', clean: false })
    const other = await connect(url)
    await other.publishAsync('wills/other', 'x', { qos: 1 })
    expect((await inbox.on('wills/other')).payload).toBe('x')
    expect(inbox.messages.map((m) => m.topic)).toEqual(['wills/other'])
    expect(back.connected).toBe(true)
    await end(back)
    await end(other)
  })
})
