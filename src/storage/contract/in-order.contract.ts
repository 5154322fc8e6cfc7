import { expect, it } from 'vitest'
import type { OutboxStore } from '../outbox-store.js'
import { a, b, c, delivery, ids } from './outbox-fixtures.js'
import type { Subject } from './subject.js'

/** Records deliveries to `target`, claims and holds them, as a dispatcher does for a held route; resolves with their ids. */
async function heldBacklog(store: OutboxStore, target: string, count: number, from = 0): Promise<number[]> {
  const recorded = await store.record(Array.from({ length: count }, (_, i) => delivery(target, from + i)))
  const claimed = await store.claimDue(a, count, Date.now())
  expect(ids(claimed)).toEqual(recorded)
  for (const id of recorded) await store.hold(id)
  return recorded
}

/** The OutboxStore's promises about holding and releasing: a released backlog goes out in order, one at a time. */
export function inOrderContract(subject: Subject<OutboxStore>): void {
  it('makes the held deliveries of a target due when it is released, and says how many', async () => {
    const { store } = subject
    await heldBacklog(store, 'route:r', 3)
    const [other] = await heldBacklog(store, 'route:s', 1, 10)
    expect(await store.release('route:r')).toBe(3)
    expect(await store.heldCount('route:r')).toBe(0)
    expect(await store.heldCount('route:s')).toBe(1)
    expect(await store.release('route:r')).toBe(0)
    const claimed = await store.claimInOrder(b, 10, Date.now())
    expect(claimed).toHaveLength(1)
    expect(claimed[0]).toMatchObject({ target: 'route:r', held: false })
    expect(ids(claimed)).not.toContain(other)
  })

  it('claims a released backlog only in order, oldest first, one at a time', async () => {
    const { store } = subject
    const [r1, r2, r3] = await heldBacklog(store, 'route:r', 3)
    await store.release('route:r')
    const t = Date.now()
    expect(await store.claimDue(b, 10, t)).toEqual([])
    const [first] = await store.claimInOrder(b, 10, t)
    expect(first).toMatchObject({ id: r1, target: 'route:r', nextAt: t + b.leaseMs })
    expect(await store.claimInOrder(b, 10, t)).toEqual([])
    expect(await store.claimInOrder(c, 10, t)).toEqual([])
    expect(await store.claimDue(c, 10, t)).toEqual([])
    // Resolved to a concrete target, the first still runs: the next waits for it.
    await store.retarget(r1!, 'function:chat', { function: 'chat', weight: 1 }, 'r')
    expect(await store.claimInOrder(c, 10, t)).toEqual([])
    await store.complete(r1!)
    expect(ids(await store.claimInOrder(c, 10, t))).toEqual([r2])
    await store.complete(r2!)
    expect(ids(await store.claimInOrder(b, 10, t))).toEqual([r3])
  })

  it('lets nothing overtake the oldest of a released backlog while it waits for its retry', async () => {
    const { store } = subject
    const [r1, r2] = await heldBacklog(store, 'route:r', 2)
    await store.release('route:r')
    const t = Date.now()
    expect(ids(await store.claimInOrder(b, 10, t))).toEqual([r1])
    await store.retryLater(r1!, 1, t + 5_000, 'HTTP 503')
    expect(await store.claimInOrder(b, 10, t + 4_999)).toEqual([])
    expect(await store.claimInOrder(b, 10, t + 5_000)).toMatchObject([{ id: r1, attempts: 1, lastError: 'HTTP 503' }])
    await store.complete(r1!)
    expect(ids(await store.claimInOrder(b, 10, t + 5_000))).toEqual([r2])
  })

  it('takes over an in-order claim whose lease has run out, and still one at a time', async () => {
    const { store } = subject
    const [r1, r2] = await heldBacklog(store, 'route:r', 2)
    await store.release('route:r')
    const t = Date.now()
    const [first] = await store.claimInOrder(b, 10, t)
    expect(first!.id).toBe(r1)
    expect(await store.claimInOrder(c, 10, first!.nextAt - 1)).toEqual([])
    // b died: once its lease has run out, c takes the same delivery over, never the next.
    expect(ids(await store.claimInOrder(c, 10, first!.nextAt))).toEqual([r1])
    expect(await store.claimDue(c, 10, first!.nextAt)).toEqual([])
    await store.complete(r1!)
    expect(ids(await store.claimInOrder(c, 10, first!.nextAt))).toEqual([r2])
  })

  it('delivers what is recorded for a target in order after its backlog, in order too', async () => {
    const { store } = subject
    const [r1, r2] = await heldBacklog(store, 'route:r', 2)
    await store.release('route:r')
    const [r3] = await store.record([delivery('route:r', 3)])
    const t = Date.now()
    expect(await store.claimDue(b, 10, t)).toEqual([])
    for (const id of [r1!, r2!, r3!]) {
      expect(ids(await store.claimInOrder(b, 10, t))).toEqual([id])
      await store.complete(id)
    }
  })

  it('takes one from each target in order, at most limit in all', async () => {
    const { store } = subject
    const [r1, r2] = await heldBacklog(store, 'route:r', 2)
    const [s1] = await heldBacklog(store, 'route:s', 2, 10)
    const [f] = await store.record([delivery('function:f', 20)])
    await store.release('route:r')
    await store.release('route:s')
    const t = Date.now()
    const first = await store.claimInOrder(b, 1, t)
    expect(first).toHaveLength(1)
    const second = await store.claimInOrder(b, 10, t)
    expect([...ids(first), ...ids(second)].sort((x, y) => x - y)).toEqual([r1, s1].sort((x, y) => x! - y!))
    expect(await store.claimInOrder(b, 0, t)).toEqual([])
    // A target not in order is not claimed in order.
    expect(ids(await store.claimDue(b, 10, t))).toEqual([f])
    await store.complete(r1!)
    expect(ids(await store.claimInOrder(c, 10, t))).toEqual([r2])
  })

  it('takes a target whose deliveries are all gone out of order: what comes next is claimed as due', async () => {
    const { store } = subject
    const [r1] = await heldBacklog(store, 'route:r', 1)
    await store.release('route:r')
    const t = Date.now()
    expect(ids(await store.claimInOrder(b, 10, t))).toEqual([r1])
    await store.complete(r1!)
    expect(await store.claimInOrder(b, 10, t)).toEqual([])
    const [next, after] = await store.record([delivery('route:r', 2), delivery('route:r', 3)])
    expect(ids(await store.claimDue(b, 10, Date.now()))).toEqual([next, after])
  })
}
