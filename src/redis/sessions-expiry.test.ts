import { Redis } from 'ioredis'
import mqemitter, { type MQEmitter } from 'mqemitter'
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest'
import { startRedis, type RedisServer } from '../../test/helpers/redis.js'
import { RedisSessionStore } from './sessions.js'

// The expiry of persistent sessions across the nodes of a cluster: stores
// on one Redis stand for nodes, each with its own connection and broker id,
// their brokers on one emitter (the contract suite covers one node).

let server: RedisServer
let admin: Redis
const connections: Redis[] = []
const stores: RedisSessionStore[] = []
let prefixes = 0

beforeAll(async () => {
  server = await startRedis({ appendfsync: 'everysec' })
  admin = new Redis(server.url)
})
afterEach(async () => {
  await Promise.all(stores.splice(0).map((s) => s.destroy()))
  await Promise.all(connections.splice(0).map((c) => c.quit()))
})
afterAll(async () => {
  await admin?.quit()
  await server?.remove()
})

async function node(id: string, keyPrefix: string, mq: MQEmitter): Promise<RedisSessionStore> {
  const connection = new Redis(server.url, { enableAutoPipelining: true })
  connections.push(connection)
  const store = new RedisSessionStore({ redis: connection, keyPrefix })
  stores.push(store)
  const broker = { id, publish: mq.emit.bind(mq), subscribe: mq.on.bind(mq), unsubscribe: mq.removeListener.bind(mq) }
  await store.setup(broker)
  return store
}

async function persistent(store: RedisSessionStore, clientId: string, connection: string): Promise<void> {
  expect(await store.claimSession(clientId, 'user:fleet', 0, connection)).toBe(true)
  await store.addSubscriptions({ id: clientId }, [{ topic: `to/${clientId}`, qos: 1 }])
}

it('expires each session once, however many nodes sweep at once, and every node stops queueing for it', async () => {
  const keyPrefix = `race-${++prefixes}:`
  const mq = mqemitter()
  const [a, b] = [await node('node-a', keyPrefix, mq), await node('node-b', keyPrefix, mq)]
  const ids = Array.from({ length: 30 }, (_, i) => `device-${i}`)
  for (const id of ids) {
    await persistent(a, id, `c-${id}`)
    await a.markDisconnected(id, `c-${id}`)
  }
  const sweep = async (store: RedisSessionStore) => {
    const got: string[] = []
    for (;;) {
      const expired = await store.expireSessions(0, 4)
      if (expired.length === 0) return got
      got.push(...expired.map((s) => s.clientId))
    }
  }
  const [byA, byB] = await Promise.all([sweep(a), sweep(b)])
  expect([...byA, ...byB].sort()).toEqual([...ids].sort())
  expect(byA.length).toBeGreaterThan(0)
  expect(byB.length).toBeGreaterThan(0)
  for (const id of ids) {
    expect(await a.subscriptionsByTopic(`to/${id}`)).toEqual([])
    expect(await b.subscriptionsByTopic(`to/${id}`)).toEqual([])
  }
})

it('marks the sessions a gone broker\'s connections held, and not those that moved to another node', async () => {
  const keyPrefix = `gone-${++prefixes}:`
  const mq = mqemitter()
  const dead = await node('node-dead', keyPrefix, mq)
  const live = await node('node-live', keyPrefix, mq)
  await persistent(dead, 'stranded', 'c1')
  await persistent(dead, 'moved', 'c2')
  expect(await live.claimSession('moved', 'user:fleet', 0, 'c3')).toBe(true)
  expect(await live.expireSessions(0, 10)).toEqual([])

  expect(await live.disconnectBroker('node-dead')).toBe(1)
  expect(await live.disconnectBroker('node-dead')).toBe(0)
  expect((await live.expireSessions(0, 10)).map((s) => s.clientId)).toEqual(['stranded'])
  // The old connection of the session that moved ends late: it changes nothing.
  await dead.markDisconnected('moved', 'c2')
  expect(await live.expireSessions(0, 10)).toEqual([])
  expect(await live.usage()).toMatchObject({ sessions: 1 })
})

it('marks, at the first start with marks, the sessions kept before them, so that they expire too', async () => {
  const keyPrefix = `before-${++prefixes}:`
  const mq = mqemitter()
  const old = await node('node-old', keyPrefix, mq)
  await persistent(old, 'recorded', 'c1')
  await old.addSubscriptions({ id: 'unrecorded' }, [{ topic: 'to/unrecorded', qos: 1 }])
  // As a version without marks left them: no connection recorded, no mark.
  await admin.del(`${keyPrefix}session:connections`, `${keyPrefix}session:held-by:node-old`, `${keyPrefix}session:marks-version`)

  const next = await node('node-next', keyPrefix, mq)
  const expired = await next.expireSessions(0, 10)
  expect(expired.map((s) => [s.clientId, s.owner]).sort()).toEqual([['recorded', 'user:fleet'], ['unrecorded', undefined]])
  expect(await next.subscriptionsByTopic('to/unrecorded')).toEqual([])
})
