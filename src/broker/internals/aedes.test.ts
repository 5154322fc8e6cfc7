import { Aedes, type AedesOptions, type AedesPublishPacket, type Client } from 'aedes'
import mqttPacket from 'mqtt-packet'
import { once } from 'node:events'
import type { IncomingMessage } from 'node:http'
import type { Socket } from 'node:net'
import { Duplex } from 'node:stream'
import { afterEach, describe, expect, it } from 'vitest'
import {
  canDeliverNow, clientsById, closeWhenStreamCloses, connackSent, deliverNow, deliveries, handleWithSocket, isDrainTimeout, replaceDeliveries, replaceWaitForDrain, routerListens, sentDisconnect,
  subscriptionsOf, turnOffDedupe, waitForDrain, wrapFinishRegisterClient, wrapPublish, wrapRegisterClient,
} from './index.js'

// Contract tests: each checks that the installed Aedes still has a private
// part that src/broker/internals uses, and still behaves as the code there
// assumes. A failure here means the patches must be looked at again before
// the pinned version is moved.

const brokers: Aedes[] = []
afterEach(async () => {
  for (const broker of brokers.splice(0)) await new Promise<void>((resolve) => broker.close(() => resolve()))
})

async function start(options: AedesOptions = {}): Promise<Aedes> {
  const broker = await Aedes.createBroker(options)
  brokers.push(broker)
  return broker
}

/**
 * One connection to a real Aedes over an in-memory stream: packets are sent
 * as bytes, and what Aedes writes is parsed back. While `hold` is on, write
 * callbacks wait, as on a socket whose peer stopped reading.
 */
class Wire {
  readonly stream: Duplex
  readonly client: Client
  readonly received: mqttPacket.Packet[] = []
  #held: Array<() => void> | undefined
  #waiters: Array<() => void> = []

  constructor(broker: Aedes, req?: IncomingMessage) {
    const parser = mqttPacket.parser()
    parser.on('packet', (packet: mqttPacket.Packet) => {
      this.received.push(packet)
      for (const wake of this.#waiters.splice(0)) wake()
    })
    this.stream = new Duplex({
      read() {},
      write: (chunk: Buffer, _encoding, callback) => {
        parser.parse(chunk)
        if (this.#held) this.#held.push(callback)
        else callback()
      },
    })
    this.client = broker.handle(this.stream, req)
  }

  static async connect(broker: Aedes, clientId: string): Promise<Wire> {
    const wire = new Wire(broker)
    await wire.connect(clientId)
    return wire
  }

  async connect(clientId: string): Promise<void> {
    this.send({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clientId, clean: true, keepalive: 0 })
    await this.next('connack')
  }

  async subscribe(subscriptions: Array<{ topic: string; qos: 0 | 1 | 2 }>): Promise<void> {
    this.send({ cmd: 'subscribe', messageId: 1, subscriptions })
    await this.next('suback')
  }

  send(packet: object): void {
    this.stream.push(mqttPacket.generate(packet as mqttPacket.Packet))
  }

  /** Takes the first packet of this kind received and not taken yet, waiting for one if need be. */
  async next(cmd: string): Promise<mqttPacket.Packet> {
    for (;;) {
      const i = this.received.findIndex((p) => p.cmd === cmd)
      if (i >= 0) return this.received.splice(i, 1)[0]!
      await new Promise<void>((resolve) => this.#waiters.push(resolve))
    }
  }

  topics(): string[] {
    return this.received.flatMap((p) => (p.cmd === 'publish' ? [p.topic] : []))
  }

  hold(): void {
    this.#held = []
  }

  release(): void {
    const held = this.#held ?? []
    this.#held = undefined
    for (const callback of held) callback()
  }
}

const message = (topic: string, qos: 0 | 1, payload: Buffer | string = 'x') => ({ cmd: 'publish' as const, topic, payload, qos, retain: false, dup: false })
const publish = (broker: Aedes, packet: ReturnType<typeof message>) => new Promise<void>((resolve, reject) => broker.publish(packet, (err) => (err ? reject(err) : resolve())))

describe('Aedes, the instance', () => {
  it('Aedes#publish: a QoS 1 PUBLISH is acknowledged once authorizePublish calls back, then published through the instance with the same packet and the publisher', async () => {
    const log: string[] = []
    let authorized: unknown
    const broker = await start({
      authorizePublish(_client, packet, done) {
        log.push('authorize')
        authorized = packet
        setImmediate(() => {
          log.push('authorized')
          done(null)
        })
      },
    })
    let resolvePublished: (call: [unknown, Client | null]) => void
    const published = new Promise<[unknown, Client | null]>((resolve) => (resolvePublished = resolve))
    wrapPublish(broker, (publish) => (packet, client, done) => {
      if (packet.topic === 't') {
        log.push('publish')
        resolvePublished([packet, client])
      }
      publish(packet, client, done)
    })
    const wire = await Wire.connect(broker, 'publisher')
    wire.send({ ...message('t', 1), messageId: 7 })
    void wire.next('puback').then(() => log.push('puback'))
    const [packet, client] = await published
    expect(packet).toBe(authorized)
    expect(client).toBe(wire.client)
    // The PUBACK waited for authorizePublish, and the publish for the PUBACK.
    expect(log).toEqual(['authorize', 'authorized', 'puback', 'publish'])
  })

  it('Aedes#registerClient: a CONNECT registers its client through the instance, where a client already connected with the id is still in `clients`', async () => {
    const broker = await start()
    const seen: Array<{ client: Client; previous: Client | undefined }> = []
    wrapRegisterClient(broker, (register) => (client) => {
      seen.push({ client, previous: clientsById(broker)[client.id] })
      register(client)
    })
    const first = await Wire.connect(broker, 'same')
    const second = await Wire.connect(broker, 'same')
    expect(seen.map((s) => s.client)).toEqual([first.client, second.client])
    expect(seen[0]!.previous).toBeUndefined()
    expect(seen[1]!.previous).toBe(first.client)
  })

  it('Aedes#_finishRegisterClient: registration ends there, through the instance, once the older client with the id is closed; it puts the client in `clients`', async () => {
    const broker = await start()
    const finished: Array<{ client: Client; olderClosed: boolean | undefined }> = []
    let older: Client | undefined
    wrapFinishRegisterClient(broker, (finish) => (client) => {
      finished.push({ client, olderClosed: older?.closed })
      finish(client)
    })
    const first = await Wire.connect(broker, 'same')
    older = first.client
    const second = await Wire.connect(broker, 'same')
    expect(finished.map((f) => f.client)).toEqual([first.client, second.client])
    expect(finished[1]!.olderClosed).toBe(true)
    expect(clientsById(broker).same).toBe(second.client)
  })

  it('Aedes#clients: the registered clients by id, one map for the life of the broker; a client leaves it when its connection ends', async () => {
    const broker = await start()
    const clients = clientsById(broker)
    const a = await Wire.connect(broker, 'a')
    const b = await Wire.connect(broker, 'b')
    expect(Object.keys(clients).sort()).toEqual(['a', 'b'])
    expect(clients.a).toBe(a.client)
    expect(clients.b).toBe(b.client)
    const gone = once(broker, 'clientDisconnect')
    a.stream.destroy()
    await gone
    expect(clientsById(broker)).toBe(clients)
    expect(Object.keys(clients)).toEqual(['b'])
  })

  it('Aedes#handle(stream, req): the request is kept as client.req, and nothing of it but connDetails is read', async () => {
    const broker = await start()
    const socket = {} as Socket
    expect(handleWithSocket(broker, new Wire(broker).stream, socket).req?.socket).toBe(socket)

    const reads = new Set<string | symbol>()
    const req = new Proxy({ socket }, { get: (target, key) => (reads.add(key), Reflect.get(target, key)) })
    const wire = new Wire(broker, req as unknown as IncomingMessage)
    expect(wire.client.req).toBe(req)
    await wire.connect('ws-like')
    await wire.subscribe([{ topic: 't', qos: 1 }])
    wire.send({ ...message('t', 1), messageId: 2 })
    await wire.next('publish')
    const gone = once(broker, 'clientDisconnect')
    wire.send({ cmd: 'disconnect' })
    await gone
    expect([...reads]).toEqual(['connDetails'])
  })

  it('Aedes#mq._matcher: every listener the router hands messages to, a client\'s subscription among them, until the turn after it is removed', async () => {
    const broker = await start()
    expect(routerListens(broker, 'sensors/1')).toBe(false)
    // The broker's own listeners.
    expect(routerListens(broker, `$SYS/${broker.id}/new/clients`)).toBe(true)
    const wire = await Wire.connect(broker, 'listener')
    await wire.subscribe([{ topic: 'sensors/+', qos: 0 }])
    expect(routerListens(broker, 'sensors/1')).toBe(true)
    expect(routerListens(broker, 'sensors/1/x')).toBe(false)
    let heard = 0
    const own = (_packet: AedesPublishPacket, cb: () => void) => (heard++, cb())
    broker.subscribe('other/#', own, () => {})
    expect(routerListens(broker, 'other/a/b')).toBe(true)
    await publish(broker, message('other/a/b', 0))
    expect(heard).toBe(1)
    wire.send({ cmd: 'unsubscribe', messageId: 2, unsubscriptions: ['sensors/+'] })
    await wire.next('unsuback')
    await new Promise((resolve) => setImmediate(resolve))
    expect(routerListens(broker, 'sensors/1')).toBe(false)
  })
})

/** A client whose CONNECT Aedes has handled to the end (`clientReady`), not only written the CONNACK of. */
async function connected(broker: Aedes, clientId: string, clean = true): Promise<Wire> {
  const wire = new Wire(broker)
  const ready = new Promise<void>((resolve) => broker.on('clientReady', (client) => client === wire.client && resolve()))
  wire.send({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clientId, clean, keepalive: 0 })
  await ready
  return wire
}

describe('Aedes, the client', () => {
  it('Client#deliver0 and #deliverQoS: a subscription takes the one for its QoS as it stands at SUBSCRIBE, and deliverQoS hands a QoS 0 message to client.deliver0', async () => {
    const broker = await start()
    const wire = new Wire(broker)
    const own = deliveries(wire.client)
    const calls: string[] = []
    replaceDeliveries(
      wire.client,
      (packet, cb) => {
        calls.push(`deliver0 ${packet.topic} at ${packet.qos}`)
        own.deliver0(packet, cb)
      },
      (packet, cb) => {
        calls.push(`deliverQoS ${packet.topic} at ${packet.qos}`)
        own.deliverQoS(packet, cb)
      },
    )
    await wire.connect('subscriber')
    await wire.subscribe([{ topic: 'zero', qos: 0 }, { topic: 'one', qos: 1 }])
    for (const [topic, qos] of [['zero', 0], ['one', 1], ['one', 0]] as const) {
      await publish(broker, message(topic, qos))
      await wire.next('publish')
    }
    expect(calls).toEqual(['deliver0 zero at 0', 'deliverQoS one at 1', 'deliverQoS one at 0', 'deliver0 one at 0'])
  })

  it('Client#deliver0: a delivery is written in an immediate of its own, after the ticks of the turn that handed it over', async () => {
    const broker = await start()
    const wire = await Wire.connect(broker, 'subscriber')
    const delivered = new Promise<void>((resolve) => deliveries(wire.client).deliver0(message('later', 0) as AedesPublishPacket, resolve))
    // A write made now would leave when mqtt-packet uncorks, on the next tick.
    await new Promise((resolve) => process.nextTick(resolve))
    expect(wire.topics()).toEqual([])
    await delivered
    expect(wire.topics()).toEqual(['later'])
  })

  it('Client#waitForDrain: a write that finds the socket full calls it on the client, and Aedes\' own calls back once the socket drains', async () => {
    const broker = await start()
    const wire = new Wire(broker)
    let resolveWaiting: () => void
    const waiting = new Promise<void>((resolve) => (resolveWaiting = resolve))
    let resolveDrained: (err: Error | null | undefined) => void
    const drained = new Promise<Error | null | undefined>((resolve) => (resolveDrained = resolve))
    replaceWaitForDrain(wire.client, function (this: Client, done) {
      resolveWaiting()
      waitForDrain(this, (err, client) => {
        resolveDrained(err)
        done(err, client)
      })
    })
    await wire.connect('slow')
    await wire.subscribe([{ topic: 'big', qos: 0 }])
    wire.hold()
    // Larger than the stream's 16 KB high-water mark: the write returns false.
    const delivered = publish(broker, message('big', 0, Buffer.alloc(20_000)))
    await waiting
    wire.release()
    expect(await drained).toBeFalsy()
    await delivered
  })

  it('Client#duplicates: a delivery whose broker counter is not above the highest seen from its broker is dropped; with the map forgetful, it is not', async () => {
    const broker = await start()
    const wire = await Wire.connect(broker, 'subscriber')
    const { deliver0 } = deliveries(wire.client)
    const deliver = (counter: number) => new Promise<void>((resolve) => {
      deliver0({ ...message(`n/${counter}`, 0), brokerId: 'another-broker', brokerCounter: counter } as AedesPublishPacket, resolve)
    })
    await deliver(5)
    // What the patch is for: a message published earlier (a lower counter) that arrives later is lost.
    await deliver(3)
    turnOffDedupe(wire.client)
    await deliver(2)
    expect(wire.topics()).toEqual(['n/5', 'n/2'])
  })

  it('Client#subscriptions: each subscription by filter, with its granted QoS and the function given to the router', async () => {
    const broker = await start()
    const wire = await Wire.connect(broker, 'subscriber')
    await wire.subscribe([{ topic: 'a/+', qos: 1 }, { topic: 'b', qos: 0 }])
    const subscriptions = subscriptionsOf(wire.client)
    expect(Object.keys(subscriptions).sort()).toEqual(['a/+', 'b'])
    expect(subscriptions['a/+']!.qos).toBe(1)
    expect(subscriptions.b!.qos).toBe(0)
    // Removing that function from the router ends the subscription's deliveries.
    await new Promise<void>((resolve) => broker.unsubscribe('a/+', subscriptions['a/+']!.func, resolve))
    await publish(broker, message('a/x', 0))
    await publish(broker, message('b', 0))
    expect((await wire.next('publish') as mqttPacket.IPublishPacket).topic).toBe('b')
  })

  it('deliverNow writes what Client#deliver0 and #deliverQoS write, at once: the same packet, the next message id, the QoS of a subscription exactly on the topic, nothing that authorizeForward drops', async () => {
    const broker = await start()
    broker.authorizeForward = (_client, packet) => (packet.topic === 'dropped' ? null : packet)
    const wire = await connected(broker, 'subscriber')
    // As Switchyard runs it: deliverNow has no duplicate check of its own.
    turnOffDedupe(wire.client)
    await wire.subscribe([{ topic: 'exact', qos: 0 }])
    const { deliver0, deliverQoS } = deliveries(wire.client)
    const through = (deliver: (packet: AedesPublishPacket, cb: () => void) => void, packet: ReturnType<typeof message>) =>
      new Promise<void>((resolve) => deliver({ ...packet, brokerId: broker.id, brokerCounter: 1 } as AedesPublishPacket, resolve))
    const sent = [message('zero', 0, 'a'), message('one', 1, 'b'), { ...message('kept', 1, 'c'), retain: true }, message('exact', 1, 'd'), message('dropped', 1, 'e'), message('dropped', 0, 'f')]
    for (const packet of sent) await through(packet.qos === 0 ? deliver0 : deliverQoS, packet)
    const publishes = () => wire.received.splice(0).filter((p) => p.cmd === 'publish')
    const byAedes = publishes()
    expect(canDeliverNow(wire.client)).toBe(true)
    for (const packet of sent) {
      const before = wire.received.length
      const done = through((p, cb) => deliverNow(wire.client, p, cb), packet)
      // Written in this turn (mqtt-packet uncorks on the next tick), not in an immediate.
      await new Promise((resolve) => process.nextTick(resolve))
      expect(wire.received.length - before).toBe(packet.topic === 'dropped' ? 0 : 1)
      await done
    }
    const byNow = publishes()
    const ids = (packets: mqttPacket.Packet[]) => packets.map((p) => p.messageId).filter((id) => id !== undefined)
    const strip = (packets: mqttPacket.Packet[]) => packets.map((p) => ({ ...p, messageId: undefined }))
    expect(byAedes.map((p) => (p as mqttPacket.IPublishPacket).topic)).toEqual(['zero', 'one', 'kept', 'exact'])
    expect(strip(byNow)).toEqual(strip(byAedes))
    expect((byAedes[3] as mqttPacket.IPublishPacket).qos).toBe(0)
    // The ids go on from where Aedes' left off; the copy lowered to QoS 0
    // took one too, in both.
    const [first, second] = ids(byAedes)
    expect(second).toBe(first! + 1)
    expect(ids(byNow)).toEqual([second! + 2, second! + 3])
  })

  it('deliverNow calls back in the next check phase, in the order of the deliveries', async () => {
    const broker = await start()
    const wire = await connected(broker, 'subscriber')
    const order: string[] = []
    for (const topic of ['a', 'b', 'c']) {
      deliverNow(wire.client, { ...message(topic, 0), brokerId: broker.id, brokerCounter: 1 } as AedesPublishPacket, () => order.push(topic))
    }
    await new Promise((resolve) => process.nextTick(resolve))
    expect(order).toEqual([])
    await new Promise((resolve) => setImmediate(resolve))
    expect(order).toEqual(['a', 'b', 'c'])
    expect(wire.topics()).toEqual(['a', 'b', 'c'])
  })

  it('canDeliverNow: only for a connected client with a clean session', async () => {
    const broker = await start()
    const connecting = new Wire(broker)
    expect(canDeliverNow(connecting.client)).toBe(false)
    const clean = await connected(broker, 'clean')
    expect(canDeliverNow(clean.client)).toBe(true)
    const persistent = await connected(broker, 'persistent', false)
    expect(canDeliverNow(persistent.client)).toBe(false)
    const gone = once(broker, 'clientDisconnect')
    clean.stream.destroy()
    await gone
    expect(canDeliverNow(clean.client)).toBe(false)
  })

  it('Client#connackSent: false until the CONNACK is written, which the connackSent event follows; true once the CONNECT is handled', async () => {
    const broker = await start()
    const wire = new Wire(broker)
    expect(connackSent(wire.client)).toBe(false)
    const event = new Promise<[Client, boolean]>((resolve) => broker.once('connackSent', (_packet, client) => resolve([client, wire.received.some((p) => p.cmd === 'connack')])))
    const ready = once(broker, 'clientReady')
    wire.send({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clientId: 'c', clean: true, keepalive: 0 })
    expect(await event).toEqual([wire.client, true])
    await ready
    expect(connackSent(wire.client)).toBe(true)
  })

  it('Client#_disconnected: true for a client that sent DISCONNECT, false for one whose connection just ended', async () => {
    const broker = await start()
    const polite = await Wire.connect(broker, 'polite')
    const dropped = await Wire.connect(broker, 'dropped')
    expect(sentDisconnect(polite.client)).toBe(false)
    const reasons = new Map<string, boolean>()
    broker.on('clientDisconnect', (client) => reasons.set(client.id, sentDisconnect(client)))
    let gone = once(broker, 'clientDisconnect')
    polite.send({ cmd: 'disconnect' })
    await gone
    gone = once(broker, 'clientDisconnect')
    dropped.stream.destroy()
    await gone
    expect(Object.fromEntries(reasons)).toEqual({ polite: true, dropped: false })
  })

  it('Client#_eos: Aedes closes a client whose stream is destroyed (no end, no error) through stream.finished; closeWhenStreamCloses does it with one listener for every client', async () => {
    const broker = await start()
    const own = await Wire.connect(broker, 'own')
    const patched = await Promise.all(['a', 'b'].map(async (id) => {
      const wire = new Wire(broker)
      closeWhenStreamCloses(wire.client)
      await wire.connect(id)
      return wire
    }))
    // finished() listens for 'close', 'end', 'finish' and 'error'; in its place one 'close' listener, the same function for both.
    const counts = (stream: Duplex) => ['close', 'end', 'finish', 'error'].map((event) => stream.listenerCount(event))
    expect(counts(own.stream)).toEqual([1, 2, 1, 2])
    expect(counts(patched[0]!.stream)).toEqual([1, 1, 0, 1])
    expect(patched[1]!.stream.listeners('close')).toEqual(patched[0]!.stream.listeners('close'))
    for (const wire of [own, ...patched]) {
      const gone = once(broker, 'clientDisconnect')
      wire.stream.destroy()
      expect((await gone)[0]).toBe(wire.client)
      expect(wire.client.closed).toBe(true)
    }
    expect(broker.connectedClients).toBe(0)
  })

  it('the drain timeout: a subscriber whose socket stays full past drainTimeout is reported as a clientError in these words', async () => {
    const broker = await start({ drainTimeout: 20 })
    const wire = await Wire.connect(broker, 'stuck')
    await wire.subscribe([{ topic: 'big', qos: 0 }])
    wire.hold()
    const failed = once(broker, 'clientError') as Promise<[Client, Error]>
    void publish(broker, message('big', 0, Buffer.alloc(20_000)))
    const [client, err] = await failed
    expect(client).toBe(wire.client)
    expect(err.message).toBe('drain timeout')
    expect(isDrainTimeout(err)).toBe(true)
  })
})
