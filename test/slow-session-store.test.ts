import mqtt from 'mqtt'
import { pino } from 'pino'
import { Registry } from 'prom-client'
import { expect, it } from 'vitest'
import { closeBroker, createBroker } from '../src/broker/broker.js'
import { limitsSchema } from '../src/broker/limits-schema.js'
import { Limits } from '../src/broker/limits.js'
import { closeServer, listenMqtt } from '../src/broker/listeners.js'
import { wrapPersistence } from '../src/broker/timed-persistence.js'
import { createSqlitePersistence, type SqlitePersistence } from '../src/persistence/index.js'
import { end } from './helpers/mqtt.js'
import { useApp } from './helpers/use-app.js'

/**
 * The same session store answering a few milliseconds late, as a networked
 * one (Redis, for a cluster) does. That delay is what opens the window in
 * which Aedes 1.2 writes a PUBLISH before the CONNACK of a persistent session
 * (16 of 50 reconnects failed with aedes-persistence-redis).
 */
function slow(persistence: SqlitePersistence, ms: number): SqlitePersistence {
  return wrapPersistence(persistence, async (_op, call) => {
    await new Promise((r) => setTimeout(r, ms))
    return call()
  })
}

const f = useApp()

it('a persistent client reconnecting 50 times under QoS 1 traffic always gets CONNACK first, with a slow store', async () => {
  const log = pino({ level: 'silent' })
  const persistence = createSqlitePersistence({ path: ':memory:' })
  f.defer(() => persistence.destroy())
  const registry = new Registry()
  // The publisher runs flat out; the publish rate limit is not what is tested here.
  const limits = new Limits(limitsSchema.parse({ publishRate: 0 }), registry, log)
  const broker = await createBroker({ persistence: slow(persistence, 3), limits, log, registry, nodeId: 'test' })
  f.defer(() => closeBroker(broker.aedes))
  const server = await listenMqtt(broker, { host: '127.0.0.1', port: 0 }, log)
  f.defer(() => closeServer(server))
  const url = `mqtt://127.0.0.1:${(server.address() as { port: number }).port}`

  const first = await f.connect(url, { clientId: 'stormy', clean: false, will: { topic: 'w', payload: Buffer.from('x'), qos: 0, retain: false } })
  await first.subscribeAsync('storm/#', { qos: 1 })
  await end(first)

  const publisher = await f.connect(url)
  let publishing = true
  let published = 0
  const flow = (async () => {
    while (publishing) {
      await Promise.all(Array.from({ length: 10 }, () => publisher.publishAsync(`storm/${published++}`, 'x', { qos: 1 })))
    }
  })()

  const failures: string[] = []
  for (let i = 0; i < 50; i++) {
    const client = mqtt.connect(url, {
      clientId: 'stormy', clean: false, reconnectPeriod: 0, connectTimeout: 2000,
      will: { topic: 'w', payload: Buffer.from('x'), qos: 0, retain: false },
    })
    let firstPacket: string | undefined
    client.on('packetreceive', (packet) => (firstPacket ??= packet.cmd))
    const outcome = await new Promise<string>((resolve) => {
      client.once('connect', () => resolve('ok'))
      client.once('error', (err) => resolve(err.message))
      client.once('close', () => resolve('closed before CONNACK'))
    })
    if (outcome !== 'ok' || firstPacket !== 'connack') failures.push(`reconnect ${i}: ${outcome}, first packet ${firstPacket}`)
    await new Promise((r) => setTimeout(r, 10))
    await end(client, true)
  }
  publishing = false
  await flow
  await end(publisher)
  expect(failures).toEqual([])
  expect(published).toBeGreaterThan(100)
})
