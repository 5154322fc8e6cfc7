import { setTimeout as delay } from 'node:timers/promises'
import { Redis } from 'ioredis'
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest'
import { startRedis, type RedisServer } from '../../test/helpers/redis.js'
import { waitUntil } from '../../test/helpers/wait.js'
import { delivery, ids } from '../storage/contract/outbox-fixtures.js'
import type { Claimant, OutboxStore } from '../storage/outbox-store.js'
import { RedisOutboxStore } from './outbox.js'

// Two stores on one Redis stand for two nodes of a cluster: each has its own
// connection, auto-pipelined as the cluster's is. What the contract suite
// checks of one store is not repeated here; this is what takes two.

let server: RedisServer
const connections: Redis[] = []
let prefixes = 0

beforeAll(async () => {
  // appendfsync always: what Redis acknowledged survives its crash.
  server = await startRedis()
})
afterEach(async () => {
  vi.useRealTimers()
  await Promise.all(connections.splice(0).map((c) => c.quit()))
})
afterAll(async () => {
  await server?.remove()
})

const nodeA: Claimant = { worker: 'node-a/1', leaseMs: 60_000 }
const nodeB: Claimant = { worker: 'node-b/1', leaseMs: 60_000 }

function twoNodes(keyPrefix = `test-${++prefixes}:`): [OutboxStore, OutboxStore] {
  const store = () => {
    const redis = new Redis(server.url, { enableAutoPipelining: true })
    // Refused while Redis restarts (the crash test); it reconnects.
    redis.on('error', () => {})
    connections.push(redis)
    return new RedisOutboxStore({ redis, keyPrefix })
  }
  return [store(), store()]
}

const ascending = (list: number[]) => [...list].sort((x, y) => x - y)

describe('claims shared by two nodes', () => {
  it('gives each of 500 deliveries to exactly one of two nodes claiming at once', async () => {
    const [a, b] = twoNodes()
    const recorded = await a.record(Array.from({ length: 500 }, (_, i) => delivery(`function:f${i % 7}`, i)))
    // As two dispatchers would, a few at a time until nothing is left (or
    // far more rounds than 500 need: a delivery is being claimed again).
    const drain = async (store: OutboxStore, claimant: Claimant) => {
      const got: number[] = []
      for (let round = 0; round < 200; round++) {
        const claimed = await store.claimDue(claimant, 7)
        if (claimed.length === 0) break
        got.push(...ids(claimed))
      }
      return got
    }
    const [byA, byB] = await Promise.all([drain(a, nodeA), drain(b, nodeB)])
    expect(byA.length).toBeGreaterThan(0)
    expect(byB.length).toBeGreaterThan(0)
    expect(ascending([...byA, ...byB])).toEqual(recorded)
    expect(await a.claimDue(nodeA, 10, Date.now() + 30_000)).toEqual([])
  })

  it('hands a claim whose worker stopped renewing to another node once its lease has run out', async () => {
    const [a, b] = twoNodes()
    const lease = 1000
    const shortA = { ...nodeA, leaseMs: lease }
    const shortB = { ...nodeB, leaseMs: lease }
    const [id] = await a.record([delivery('function:f')])
    const [claimed] = await a.claimDue(shortA, 10)
    // A renews while it runs, as a dispatcher does (far more often than it
    // must): past the lease it was claimed with, B still finds nothing.
    let lastRenewal = 0
    let renewing = true
    const renewals = (async () => {
      while (renewing) {
        lastRenewal = Date.now()
        await a.renew(shortA, [id!])
        await delay(50)
      }
    })()
    while (Date.now() < claimed!.nextAt + lease / 2) {
      expect(await b.claimDue(shortB, 10)).toEqual([])
      await delay(20)
    }
    renewing = false
    await renewals
    // A has stopped: B takes it over, not before a lease from A's last renewal.
    const [taken] = await waitUntil(() => b.claimDue(shortB, 10), { what: 'B to take the delivery over', until: (got) => got.length > 0, interval: 10 })
    expect(Date.now()).toBeGreaterThanOrEqual(lastRenewal + lease)
    expect(taken).toMatchObject({ id, target: 'function:f', attempts: 0 })
    // The claim is B's now: A can no longer renew it.
    await a.renew(shortA, [id!])
    expect(ids(await a.claimDue(shortA, 10, taken!.nextAt))).toEqual([id])
  })

  it('measures leases on Redis\' clock, whatever the clock of a node says', async () => {
    const [a, b] = twoNodes()
    const [id] = await a.record([delivery('function:f')])
    const before = Date.now()
    await a.claimDue(nodeA, 10)
    // B's clock runs an hour ahead: A's claim still holds for B.
    vi.useFakeTimers({ toFake: ['Date'], now: before + 3_600_000 })
    expect(await b.claimDue(nodeB, 10)).toEqual([])
    const due = await b.nextDueAt()
    vi.useRealTimers()
    expect(due).toBeGreaterThanOrEqual(before + nodeA.leaseMs)
    expect(due).toBeLessThanOrEqual(Date.now() + nodeA.leaseMs)
    expect(ids(await b.claimDue(nodeB, 10, due!))).toEqual([id])
  })

  it('leaves a delivery held when a worker whose lease ran out retries it after another held it', async () => {
    const [a, b] = twoNodes()
    const [id] = await a.record([delivery('route:r')])
    const t = Date.now()
    const [claimed] = await a.claimDue(nodeA, 10, t)
    expect(ids(await b.claimDue(nodeB, 10, claimed!.nextAt))).toEqual([id])
    await b.hold(id!)
    await a.retryLater(id!, 1, t, 'timeout')
    expect(await b.heldCount('route:r')).toBe(1)
    expect(await b.claimDue(nodeB, 10, t + 10 * nodeA.leaseMs)).toEqual([])
    expect(await b.nextDueAt()).toBeUndefined()
  })
})

describe('a released backlog shared by two nodes', () => {
  it('goes out in order, one at a time, whichever node claims each', async () => {
    const [a, b] = twoNodes()
    const backlog = await a.record(Array.from({ length: 20 }, (_, i) => delivery('route:r', i)))
    expect(ids(await a.claimDue(nodeA, 20))).toEqual(backlog)
    for (const id of backlog) await a.hold(id)
    expect(await b.release('route:r')).toBe(20)

    // Two dispatchers, each claiming in order (and due, which must find
    // nothing of the backlog) and running what it got for a moment.
    const made: number[] = []
    const byWorker = new Map<string, number>()
    let running = 0
    const dispatch = async (store: OutboxStore, claimant: Claimant) => {
      while (made.length < backlog.length) {
        const claimed = await store.claimInOrder(claimant, 10)
        expect(await store.claimDue(claimant, 10)).toEqual([])
        expect(claimed.length).toBeLessThanOrEqual(1)
        const [d] = claimed
        if (!d) {
          await delay(1)
          continue
        }
        // Resolved to a concrete target, as a dispatcher does with a route.
        await store.retarget(d.id, 'function:chat', { function: 'chat', weight: 1 }, 'r')
        expect(running).toBe(0)
        running++
        await delay(3)
        running--
        made.push(d.id)
        byWorker.set(claimant.worker, (byWorker.get(claimant.worker) ?? 0) + 1)
        await store.complete(d.id)
        // Gives the other node its turn at the next one.
        await delay(5)
      }
    }
    await Promise.all([dispatch(a, nodeA), dispatch(b, nodeB)])
    expect(made).toEqual(backlog)
    expect(byWorker.get(nodeA.worker)).toBeGreaterThan(0)
    expect(byWorker.get(nodeB.worker)).toBeGreaterThan(0)
    // Its backlog gone, the address is out of order: what comes next is due at once.
    expect(await a.claimInOrder(nodeA, 10)).toEqual([])
    const [next] = await b.record([delivery('route:r', 99)])
    expect(ids(await a.claimDue(nodeA, 10))).toEqual([next])
  })
})

describe('dead letters shared by two nodes', () => {
  it('replays a dead letter once when two nodes replay it at once', async () => {
    const [a, b] = twoNodes()
    await a.record([delivery('function:f', 1)])
    const [claimed] = await a.claimDue(nodeA, 10)
    await a.deadLetter({ ...claimed!, attempts: 3 }, 'HTTP 500')
    const letters = await b.deadLetters()
    expect(letters).toHaveLength(1)
    const [byA, byB] = await Promise.all([a.replay(letters), b.replay(letters)])
    const replayed = [...byA, ...byB]
    expect(replayed).toHaveLength(1)
    expect(ids(await b.claimDue(nodeB, 10))).toEqual(replayed)
    expect(await a.deadLetters()).toEqual([])
  })
})

describe('durability', () => {
  it('keeps what was recorded, and who claimed what, through a crash of Redis', async () => {
    const keyPrefix = `test-${++prefixes}:`
    const [a] = twoNodes(keyPrefix)
    const [first, second] = await a.record([delivery('function:f', 1), delivery('function:f', 2)])
    const t = Date.now()
    const [claimed] = await a.claimDue(nodeA, 1, t)
    expect(claimed!.id).toBe(first)
    await server.kill()
    await server.restart()
    const [b] = twoNodes(keyPrefix)
    // A's claim on the first holds until its lease runs out.
    expect(ids(await b.claimDue(nodeB, 10, t))).toEqual([second])
    expect(ids(await b.claimDue(nodeB, 10, claimed!.nextAt))).toEqual([first, second])
  })
})
