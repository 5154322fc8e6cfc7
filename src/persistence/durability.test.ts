import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Readable } from 'node:stream'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { createSqlitePersistence, type SqlitePersistence } from './index.js'

// Everything a session holds must come back, exactly, after the database
// file is closed and opened again by a new broker (with a new broker id, as
// Aedes picks one at each start).

let dir: string
let file: string
let open: SqlitePersistence[] = []

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'switchyard-persistence-'))
  file = join(dir, 'sessions.db')
})
afterEach(async () => {
  await Promise.all(open.map((p) => p.destroy()))
  open = []
  rmSync(dir, { recursive: true, force: true })
})

async function start(brokerId: string): Promise<SqlitePersistence> {
  const persistence = createSqlitePersistence({ path: file })
  open.push(persistence)
  await persistence.setup({ id: brokerId })
  return persistence
}

async function restart(persistence: SqlitePersistence, brokerId: string): Promise<SqlitePersistence> {
  await persistence.destroy()
  return start(brokerId)
}

async function collect(stream: Readable): Promise<unknown[]> {
  const items: unknown[] = []
  for await (const item of stream) items.push(item)
  return items
}

const client = { id: 'device-1' }

describe('after the database is closed and opened again', () => {
  it('keeps retained messages, exactly, and not the removed ones', async () => {
    let p = await start('broker-a')
    const v5 = {
      cmd: 'publish', topic: 'site/1/config', payload: Buffer.from([0, 1, 2, 255]), qos: 1, retain: true, dup: false,
      brokerId: 'broker-a', brokerCounter: 7, messageId: undefined,
      properties: { contentType: 'application/octet-stream', correlationData: Buffer.from('c0ffee'), userProperties: { a: 'b', list: ['x', 'y'] } },
    }
    const text = { cmd: 'publish', topic: 'site/2/config', payload: 'plain text', qos: 0, retain: true }
    await p.storeRetained(v5)
    await p.storeRetained(text)
    await p.storeRetained({ cmd: 'publish', topic: 'site/3/config', payload: Buffer.from('gone'), qos: 0, retain: true })
    await p.storeRetained({ cmd: 'publish', topic: 'site/3/config', payload: Buffer.alloc(0), qos: 0, retain: true })

    p = await restart(p, 'broker-b')
    const retained = await collect(p.createRetainedStreamCombi(['site/#']))
    expect(retained).toStrictEqual([v5, text])
    expect(Buffer.isBuffer((retained[0] as typeof v5).properties.correlationData)).toBe(true)
    expect(await collect(p.createRetainedStream('site/3/config'))).toEqual([])
  })

  it('keeps subscriptions with their MQTT 5 options, and matches them by topic again', async () => {
    let p = await start('broker-a')
    await p.addSubscriptions(client, [
      { topic: 'orders/#', qos: 1, rh: 0, rap: true, nl: false },
      { topic: 'alarms/+/fire', qos: 2, rh: 2, rap: false, nl: true, subscriptionIdentifier: 42 },
      { topic: 'chatter', qos: 0 },
      { topic: 'dropped', qos: 1 },
    ])
    await p.addSubscriptions({ id: 'device-2' }, [{ topic: 'orders/#', qos: 1 }])
    await p.removeSubscriptions(client, ['dropped'])
    const before = await p.subscriptionsByClient(client)

    p = await restart(p, 'broker-b')
    expect(await p.subscriptionsByClient(client)).toStrictEqual(before)
    expect(before).toStrictEqual([
      { topic: 'orders/#', qos: 1, rh: 0, rap: true, nl: false },
      { topic: 'alarms/+/fire', qos: 2, rh: 2, rap: false, nl: true, subscriptionIdentifier: 42 },
      { topic: 'chatter', qos: 0, rh: undefined, rap: undefined, nl: undefined },
    ])
    expect(await p.subscriptionsByTopic('orders/17')).toEqual([
      { clientId: 'device-1', topic: 'orders/#', qos: 1, rh: 0, rap: true, nl: false },
      { clientId: 'device-2', topic: 'orders/#', qos: 1, rh: undefined, rap: undefined, nl: undefined },
    ])
    expect(await p.subscriptionsByTopic('alarms/kitchen/fire')).toEqual([
      { clientId: 'device-1', topic: 'alarms/+/fire', qos: 2, rh: 2, rap: false, nl: true },
    ])
    expect(await p.subscriptionsByTopic('chatter')).toEqual([])
    expect(await p.countOffline()).toEqual({ subsCount: 3, clientsCount: 2 })
    expect(await collect(p.getClientList('orders/#'))).toEqual(['device-1', 'device-2'])

    await p.cleanSubscriptions(client)
    p = await restart(p, 'broker-c')
    expect(await p.subscriptionsByClient(client)).toEqual([])
    expect(await p.countOffline()).toEqual({ subsCount: 1, clientsCount: 1 })
  })

  it('keeps the offline queue in order, with the message ids given and the PUBRELs', async () => {
    let p = await start('broker-a')
    const sub = { clientId: client.id, topic: 'orders/#', qos: 2 }
    const packets = Array.from({ length: 5 }, (_, i) => ({
      cmd: 'publish', topic: `orders/${i}`, payload: Buffer.from(`order ${i}`), qos: i % 2 === 0 ? 1 : 2,
      retain: false, dup: false, brokerId: 'broker-a', brokerCounter: i + 1,
    }))
    for (const packet of packets) await p.outgoingEnqueueCombi([sub, { clientId: 'device-2', topic: 'orders/#', qos: 1 }], packet)
    // Sent before the broker went down: the first three got message ids, the
    // QoS 2 one was PUBRECed and now waits as a PUBREL, the first was acknowledged.
    await p.outgoingUpdate(client, { ...packets[0], messageId: 100 })
    await p.outgoingUpdate(client, { ...packets[1], messageId: 101 })
    await p.outgoingUpdate(client, { ...packets[2], messageId: 102 })
    await p.outgoingUpdate(client, { cmd: 'pubrel', messageId: 101 })
    expect(await p.outgoingClearMessageId(client, { cmd: 'puback', messageId: 100 })).toMatchObject({ topic: 'orders/0', messageId: 100 })

    p = await restart(p, 'broker-b')
    const queue = (await collect(p.outgoingStream(client))) as Array<{ cmd: string; topic?: string; messageId?: number }>
    expect(queue.map((q) => [q.cmd, q.topic, q.messageId])).toEqual([
      ['pubrel', undefined, 101],
      ['publish', 'orders/2', 102],
      ['publish', 'orders/3', undefined],
      ['publish', 'orders/4', undefined],
    ])
    expect(queue[1]).toStrictEqual({ ...packets[2], messageId: 102 })
    expect(await collect(p.outgoingStream({ id: 'device-2' }))).toHaveLength(5)

    // The new broker resends with the stored ids and gives the rest new ones;
    // what it queues now goes after what was there.
    await p.outgoingUpdate(client, { ...packets[3], messageId: 1 })
    await p.outgoingEnqueue(sub, { ...packets[0], brokerId: 'broker-b', brokerCounter: 1, topic: 'orders/new' })
    expect(await p.outgoingClearMessageId(client, { messageId: 102 })).toMatchObject({ topic: 'orders/2' })
    expect(await p.outgoingClearMessageId(client, { messageId: 101 })).toStrictEqual({ cmd: 'pubrel', messageId: 101 })
    p = await restart(p, 'broker-c')
    const rest = (await collect(p.outgoingStream(client))) as Array<{ topic: string; messageId?: number }>
    expect(rest.map((q) => [q.topic, q.messageId])).toEqual([['orders/3', 1], ['orders/4', undefined], ['orders/new', undefined]])
  })

  it('keeps incoming QoS 2 packets until PUBREL', async () => {
    let p = await start('broker-a')
    const packet = { cmd: 'publish', topic: 'alarms/fire', payload: Buffer.from('fire'), qos: 2, retain: false, dup: false, messageId: 7 }
    await p.incomingStorePacket(client, packet)
    await p.incomingStorePacket({ id: 'device-2' }, { ...packet, messageId: 8 })

    p = await restart(p, 'broker-b')
    expect(await p.incomingGetPacket(client, { messageId: 7 })).toMatchObject({ topic: 'alarms/fire', payload: Buffer.from('fire'), qos: 2, messageId: 7 })
    await p.incomingDelPacket(client, { messageId: 7 })
    await p.cleanIncoming({ id: 'device-2' })

    p = await restart(p, 'broker-c')
    await expect(p.incomingGetPacket(client, { messageId: 7 })).rejects.toThrow('no such packet')
    await expect(p.incomingGetPacket({ id: 'device-2' }, { messageId: 8 })).rejects.toThrow('no such packet')
  })

  it('keeps wills, which the next broker finds as those of a dead broker', async () => {
    let p = await start('broker-a')
    const will = { topic: 'wills/device-1', payload: Buffer.from('lost'), qos: 1, retain: false }
    await p.putWill(client, will)
    await p.putWill({ id: 'device-2' }, { topic: 'wills/device-2', payload: 'lost too', qos: 0, retain: true })

    p = await restart(p, 'broker-b')
    await p.putWill({ id: 'device-3' }, { topic: 'wills/device-3', payload: Buffer.from('alive'), qos: 0, retain: false })
    const orphaned = await collect(p.streamWill({ 'broker-b': Date.now() }))
    expect(orphaned).toStrictEqual([
      { ...will, brokerId: 'broker-a', clientId: 'device-1' },
      { topic: 'wills/device-2', payload: 'lost too', qos: 0, retain: true, brokerId: 'broker-a', clientId: 'device-2' },
    ])
    // Aedes deletes a swept will by client and broker: a will the client has
    // since left with this broker stays.
    expect(await p.delWill({ id: 'device-3', brokerId: 'broker-a' })).toBeUndefined()
    expect(await p.delWill({ id: 'device-1', brokerId: 'broker-a' })).toMatchObject({ topic: 'wills/device-1' })

    p = await restart(p, 'broker-c')
    expect(await p.getWill(client)).toBeUndefined()
    expect(await p.getWill({ id: 'device-3' })).toMatchObject({ topic: 'wills/device-3', brokerId: 'broker-b' })
  })
})
