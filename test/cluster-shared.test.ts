import { Redis } from 'ioredis'
import { describe, expect, it } from 'vitest'
import type { Cluster } from './helpers/cluster.js'
import type { Inbox } from './helpers/mqtt.js'
import { RawClient } from './helpers/raw-client.js'
import { useCluster } from './helpers/use-cluster.js'
import { waitUntil } from './helpers/wait.js'

// Shared subscriptions on three real nodes and a real redis-server: a group
// spans the nodes, and one member in the cluster takes each message.

const f = useCluster()

/** Resolves once the cluster has recorded `n` connected members in all, and the nodes have had time to hear of the last. */
async function membersRecorded(cluster: Cluster, n: number): Promise<void> {
  const redis = new Redis(cluster.redis.url, { lazyConnect: true })
  f.defer(() => redis.quit())
  await redis.connect()
  await waitUntil(() => redis.hlen('switchyard:shared'), { what: `${n} shared subscription members in Redis`, until: (count) => count === n })
  // Each node reads the members on the notice that follows each write.
  await new Promise((r) => setTimeout(r, 300))
}

describe('a shared subscription across nodes', () => {
  it('hands each message to one member in the cluster, in turn, whichever node it was published on', async () => {
    const cluster = await f.shared()
    const [a, b, c] = cluster.nodes
    const inboxes: Inbox[] = []
    for (const [i, node] of [a, b, c].entries()) {
      const { client, inbox } = await f.connectWithInbox(node!, { clientId: `worker-${i}` })
      await client.subscribeAsync('$share/workers/jobs/#', { qos: 1 })
      inboxes.push(inbox)
    }
    const { client: watching, inbox: watcher } = await f.connectWithInbox(c!, { clientId: 'watcher' })
    await watching.subscribeAsync('jobs/#', { qos: 1 })
    await membersRecorded(cluster, 3)
    const pubA = await f.connect(a!, { clientId: 'pub-a' })
    const pubB = await f.connect(b!, { clientId: 'pub-b' })
    for (let i = 0; i < 150; i++) {
      await pubA.publishAsync('jobs/a', `a${i}`, { qos: 1 })
      await pubB.publishAsync('jobs/b', `b${i}`, { qos: 1 })
    }
    await watcher.count(300, 10_000)
    await Promise.all(inboxes.map((inbox) => inbox.flush()))
    const got = inboxes.flatMap((inbox) => inbox.messages.map((m) => m.payload))
    expect(got.length).toBe(300)
    expect(new Set(got).size).toBe(300)
    for (const inbox of inboxes) expect(Math.abs(inbox.messages.length - 100)).toBeLessThanOrEqual(10)
  })

  it('passes a QoS 1 message that a member left unacknowledged to a member on another node', async () => {
    const cluster = await f.shared()
    const [a, b] = cluster.nodes
    const silent = await RawClient.connect(a!.child.mqttPort, { clientId: 'silent-member', clean: true })
    f.defer(() => silent.drop())
    await silent.next((p) => p.cmd === 'connack')
    silent.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: '$share/relay/relay/#', qos: 1 }] })
    await silent.next((p) => p.cmd === 'suback')
    const { client, inbox } = await f.connectWithInbox(b!, { clientId: 'relay-b' })
    await client.subscribeAsync('$share/relay/relay/#', { qos: 1 })
    await membersRecorded(cluster, 2)
    // Members in client id order: relay-b, then silent-member.
    const pub = await f.connect(b!, { clientId: 'relay-pub' })
    await pub.publishAsync('relay/x', 'first', { qos: 1 })
    await pub.publishAsync('relay/x', 'second', { qos: 1 })
    const held = await silent.next((p) => p.cmd === 'publish') as { payload: Buffer }
    await inbox.count(1)
    await silent.drop()
    await inbox.count(2)
    expect(inbox.messages.map((m) => m.payload).sort()).toEqual(['first', 'second'])
    expect(inbox.messages.map((m) => m.payload)).toContain(held.payload.toString())
  })

  it('queues for a persistent member away when no member is connected on any node, which it gets on another node', async () => {
    const cluster = await f.shared()
    const [a, b, c] = cluster.nodes
    const member = await f.connect(a!, { clientId: 'roaming-member', clean: false })
    await member.subscribeAsync('$share/roam/roam/#', { qos: 1 })
    await member.endAsync()
    await membersRecorded(cluster, 0)
    const pub = await f.connect(b!, { clientId: 'roam-pub' })
    for (let i = 0; i < 3; i++) await pub.publishAsync('roam/x', `r${i}`, { qos: 1 })
    const { inbox } = await f.connectWithInbox(c!, { clientId: 'roaming-member', clean: false })
    await inbox.count(3)
    expect(inbox.messages.map((m) => m.payload)).toEqual(['r0', 'r1', 'r2'])
  })
})
