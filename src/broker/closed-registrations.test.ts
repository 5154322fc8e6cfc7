import { Aedes, type Client } from 'aedes'
import mqttPacket from 'mqtt-packet'
import { once } from 'node:events'
import { connect as connectTcp, createServer, type AddressInfo, type Server } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import { connect, end } from '../../test/helpers/mqtt.js'
import { createSqlitePersistence, type SqlitePersistence } from '../persistence/index.js'
import { skipClosedRegistrations } from './closed-registrations.js'

// A client that ends its connection right after CONNECT: Aedes is still
// waiting on the session store (here, to store the client's will) when the
// close arrives.

let persistence: SqlitePersistence
let broker: Aedes
let server: Server
let port: number
afterEach(async () => {
  await new Promise<void>((resolve) => broker.close(() => resolve()))
  server.close()
  await persistence.destroy()
})

let skipped: Client[] = []

async function start(guarded: boolean): Promise<void> {
  skipped = []
  persistence = createSqlitePersistence()
  broker = await Aedes.createBroker({ persistence })
  if (guarded) skipClosedRegistrations(broker, persistence, (client) => skipped.push(client))
  server = createServer(broker.handle)
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  port = (server.address() as AddressInfo).port
}

const will = { topic: 'wills/gone', payload: Buffer.from('gone'), qos: 1, retain: false }

/** Sends a CONNECT (with a will, unless told otherwise) and ends the connection at once; resolves when it is closed. */
function connectAndLeave(packet: object): Promise<void> {
  return new Promise((resolve) => {
    const socket = connectTcp(port, '127.0.0.1')
    socket.on('error', () => {})
    socket.on('data', () => {})
    socket.on('close', () => resolve())
    socket.end(mqttPacket.generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, keepalive: 30, will, ...packet } as mqttPacket.Packet))
  })
}

/** Lets the connect steps of closed connections run out (a few store commits). */
const settle = () => new Promise((resolve) => setTimeout(resolve, 100))

describe('a connection that closes during its CONNECT', () => {
  it('stays registered in Aedes alone: the reason for the guard', async () => {
    await start(false)
    await Promise.all(Array.from({ length: 50 }, (_, i) => connectAndLeave({ clientId: `gone-${i}` })))
    await settle()
    // If this fails, Aedes checks for itself and the guard can go.
    expect(broker.connectedClients).toBeGreaterThan(0)
  })

  it('is not registered, counted or left holding its client id', async () => {
    await start(true)
    const registeredClosed: string[] = []
    broker.on('client', (c) => c.closed && registeredClosed.push(c.id))
    await Promise.all(Array.from({ length: 200 }, (_, i) => connectAndLeave({ clientId: `gone-${i % 50}` })))
    await settle()
    expect(broker.connectedClients).toBe(0)
    expect(Object.keys((broker as unknown as { clients: object }).clients)).toEqual([])
    expect(registeredClosed).toEqual([])
    expect(skipped.length).toBeGreaterThan(0)

    // A client that stays gets registered as usual, under an id a closed one used.
    const stays = await connect(`mqtt://127.0.0.1:${port}`, { clientId: 'gone-7' })
    expect(broker.connectedClients).toBe(1)
    await end(stays)
    await settle()
    expect(broker.connectedClients).toBe(0)
  })

  it('leaves no restored subscription behind, and no will in the store', async () => {
    await start(true)
    // A persistent session with a subscription, offline.
    const device = await connect(`mqtt://127.0.0.1:${port}`, { clientId: 'device', clean: false })
    await device.subscribeAsync('orders/#', { qos: 1 })
    await end(device)

    await Promise.all(Array.from({ length: 20 }, () => connectAndLeave({
      clientId: 'device', clean: false, will: { topic: 'wills/device', payload: Buffer.from('lost'), qos: 1, retain: false },
    })))
    await settle()
    expect(broker.connectedClients).toBe(0)
    expect(await persistence.getWill({ id: 'device' })).toBeUndefined()

    // A message for the session is queued for it, not sent to a dead connection.
    const errors: Error[] = []
    broker.on('clientError', (_c, err) => errors.push(err))
    const publisher = await connect(`mqtt://127.0.0.1:${port}`)
    await publisher.publishAsync('orders/1', 'one', { qos: 1 })
    await end(publisher)
    await settle()
    expect(errors.map((e) => e.message)).toEqual([])
    const back = await connect(`mqtt://127.0.0.1:${port}`, { clientId: 'device', clean: false })
    const got = new Promise<string>((resolve) => back.on('message', (_t, payload) => resolve(payload.toString())))
    expect(await got).toBe('one')
    await end(back)
  })
})
