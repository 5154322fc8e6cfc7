import { describe, expect, it } from 'vitest'
import type { DeliveryContext, OutboxStore } from '../outbox-store.js'
import { deadLettersContract } from './dead-letters.contract.js'
import { inOrderContract } from './in-order.contract.js'
import { a, b, clockPast, context, delivery, ids } from './outbox-fixtures.js'
import { eachTest, type Open } from './subject.js'

/**
 * What every OutboxStore promises (storage/outbox-store.ts), seen from
 * outside. `open` gives a store on fresh, empty storage for each test.
 * Times a claim is made at are passed as `now`; the others (record, renew,
 * release, split, replay) are the clock's, so they are read around the call.
 */
export function outboxStoreContract(name: string, open: Open<OutboxStore>): void {
  describe(`OutboxStore contract: ${name}`, () => {
    const subject = eachTest(open)

    it('records deliveries and resolves with one id each', async () => {
      const { store } = subject
      expect(await store.record([])).toEqual([])
      const recorded = await store.record([delivery('function:a', 1), delivery('function:b', 2)])
      expect(recorded).toHaveLength(2)
      expect(new Set(recorded).size).toBe(2)
      expect(ids(await store.claimDue(a, 10, Date.now()))).toEqual(recorded)
    })

    it('hands a claimed delivery back as it was recorded, due now, with no attempts yet', async () => {
      const { store } = subject
      const spec = { url: 'http://hooks.example/in', method: 'POST', headers: { 'x-key': 'k' }, retry: { attempts: 3 } }
      const event = { text: 'hé ✓', nested: [1, { b: null, c: true }], n: 1.5 }
      const bare: DeliveryContext = { clientId: null, topic: 'a/b', rule: null, requestId: 'req-9', timestamp: 1_700_000_000_009, hops: 3, fromLoop: true }
      const before = Date.now()
      const [full, plain] = await store.record([
        { target: 'url:http://hooks.example/in', spec, event, context: context(1), via: 'hooks' },
        { target: 'function:chat', event: null, context: bare },
      ])
      const after = Date.now()
      const t = Date.now()
      const claimed = await store.claimDue(a, 10, t)
      expect(claimed).toEqual([
        { id: full, target: 'url:http://hooks.example/in', spec, event, context: context(1), via: 'hooks', attempts: 0, createdAt: expect.any(Number), nextAt: t + a.leaseMs, held: false, lastError: null },
        { id: plain, target: 'function:chat', spec: claimed[1]!.spec, event: null, context: bare, via: null, attempts: 0, createdAt: expect.any(Number), nextAt: t + a.leaseMs, held: false, lastError: null },
      ])
      expect(claimed[1]!.spec ?? null).toBeNull()
      for (const d of claimed) {
        expect(d.createdAt).toBeGreaterThanOrEqual(before)
        expect(d.createdAt).toBeLessThanOrEqual(after)
      }
    })

    it('claims due deliveries oldest first, up to the limit', async () => {
      const { store } = subject
      const recorded = await store.record([1, 2, 3, 4, 5].map((n) => delivery(`function:f${n % 2}`, n)))
      const t = Date.now()
      expect(await store.claimDue(a, 0, t)).toEqual([])
      expect(ids(await store.claimDue(a, 2, t))).toEqual(recorded.slice(0, 2))
      expect(ids(await store.claimDue(b, 2, t))).toEqual(recorded.slice(2, 4))
      expect(ids(await store.claimDue(a, 10, t))).toEqual(recorded.slice(4))
    })

    it('does not claim a delivery before it is due', async () => {
      const { store } = subject
      const before = Date.now()
      await store.record([delivery('function:a')])
      expect(await store.claimDue(a, 10, before - 1)).toEqual([])
    })

    it('claims a claimed delivery again, for this worker or another, only once its lease has run out', async () => {
      const { store } = subject
      const [id] = await store.record([delivery('function:a')])
      const t = Date.now()
      const [claimed] = await store.claimDue(a, 10, t)
      expect(claimed!.nextAt).toBe(t + a.leaseMs)
      expect(await store.claimDue(a, 10, t)).toEqual([])
      expect(await store.claimDue(b, 10, claimed!.nextAt - 1)).toEqual([])
      expect(await store.claimDue(a, 10, claimed!.nextAt - 1)).toEqual([])
      const [taken] = await store.claimDue(b, 10, claimed!.nextAt)
      expect(taken).toMatchObject({ id, nextAt: claimed!.nextAt + b.leaseMs, attempts: 0 })
      expect(await store.claimDue(a, 10, claimed!.nextAt)).toEqual([])
    })

    it('renews a claim from the time of renewal, and only the worker that holds it can', async () => {
      const { store } = subject
      const [id] = await store.record([delivery('function:a')])
      await store.claimDue(a, 10)
      // Due two minutes ago and claimed by a a lease ago: the claim runs out at t.
      const t = Date.now()
      await store.retryLater(id!, 1, t - 120_000, 'timeout')
      expect(ids(await store.claimDue(a, 10, t - a.leaseMs))).toEqual([id])
      const renewing = Date.now()
      await store.renew(a, [id!])
      const renewed = Date.now()
      expect(await store.claimDue(b, 10, t)).toEqual([])
      expect(await store.claimDue(b, 10, renewing + a.leaseMs - 1)).toEqual([])
      expect(ids(await store.claimDue(b, 10, renewed + a.leaseMs))).toEqual([id])
    })

    it('does not renew a claim for a worker that does not hold it', async () => {
      const { store } = subject
      const [id] = await store.record([delivery('function:a')])
      await store.claimDue(a, 10)
      const t = Date.now()
      await store.retryLater(id!, 1, t - 120_000, 'timeout')
      await store.claimDue(a, 10, t - a.leaseMs)
      await store.renew(b, [id!])
      await store.renew(a, [])
      expect(ids(await store.claimDue(b, 10, t))).toEqual([id])
    })

    it('never claims a completed delivery again', async () => {
      const { store } = subject
      const [done, other] = await store.record([delivery('function:a', 1), delivery('function:a', 2)])
      await store.claimDue(a, 10)
      await store.complete(done!)
      const later = Date.now() + 10 * a.leaseMs
      expect(ids(await store.claimDue(b, 10, later))).toEqual([other])
      await store.complete(other!)
      expect(await store.claimDue(b, 10, later + 10 * b.leaseMs)).toEqual([])
      expect(await store.nextDueAt()).toBeUndefined()
    })

    it('makes a delivery retried later due again at nextAt, not before, with its attempts and last error', async () => {
      const { store } = subject
      const [id] = await store.record([delivery('function:a')])
      await store.claimDue(a, 10)
      const at = Date.now() + 5_000
      await store.retryLater(id!, 1, at, 'connection refused')
      expect(await store.claimDue(b, 10, at - 1)).toEqual([])
      const [again] = await store.claimDue(b, 10, at)
      expect(again).toMatchObject({ id, attempts: 1, lastError: 'connection refused', nextAt: at + b.leaseMs })
      // The retry ends the claim: due now, it is claimed at once, long before the lease would have run out.
      await store.retryLater(id!, 2, at, 'HTTP 503')
      expect(await store.claimDue(a, 10, at)).toMatchObject([{ id, attempts: 2, lastError: 'HTTP 503' }])
    })

    it('keeps a held delivery out of claims and counts it for its target', async () => {
      const { store } = subject
      const [h1, h2, other] = await store.record([delivery('route:r', 1), delivery('route:r', 2), delivery('route:s', 3)])
      await store.claimDue(a, 10)
      await store.hold(h1!)
      await store.hold(h2!)
      expect(await store.heldCount('route:r')).toBe(2)
      expect(await store.heldCount('route:s')).toBe(0)
      expect(await store.heldCount('route:nobody')).toBe(0)
      const later = Date.now() + 10 * a.leaseMs
      expect(ids(await store.claimDue(b, 10, later))).toEqual([other])
      expect(await store.claimInOrder(b, 10, later)).toEqual([])
      await store.complete(other!)
      expect(await store.nextDueAt()).toBeUndefined()
      expect(await store.claimDue(b, 10, later + 10 * b.leaseMs)).toEqual([])
    })

    it('points a claimed delivery at another target and keeps the claim', async () => {
      const { store } = subject
      const [id] = await store.record([delivery('route:chat', 1)])
      const t = Date.now()
      const [claimed] = await store.claimDue(a, 10, t)
      const spec = { url: 'http://chat.example/v2', weight: 1 }
      await store.retarget(id!, 'url:http://chat.example/v2', spec, 'chat')
      expect(await store.claimDue(b, 10, claimed!.nextAt - 1)).toEqual([])
      const [taken] = await store.claimDue(b, 10, claimed!.nextAt)
      expect(taken).toEqual({ ...claimed, target: 'url:http://chat.example/v2', spec, via: 'chat', nextAt: claimed!.nextAt + b.leaseMs })
    })

    it('splits a claimed delivery into one delivery per target, unclaimed and due now, keeping when it was created', async () => {
      const { store } = subject
      const [id] = await store.record([delivery('route:fan', 1)])
      const [claimed] = await store.claimDue(a, 10)
      await clockPast(claimed!.createdAt)
      const targets = [{ target: 'function:welcome', spec: { function: 'welcome', weight: 1 } }, { target: 'topic:audit/users', spec: { topic: 'audit/users', weight: 1 } }]
      const split = await store.split(claimed!, targets, 'fan')
      expect(split).toHaveLength(2)
      expect(split).not.toContain(id)
      const t = Date.now()
      const taken = await store.claimDue(b, 10, t)
      expect(ids(taken)).toEqual(split)
      targets.forEach((target, i) => {
        expect(taken[i]).toMatchObject({ ...target, via: 'fan', event: claimed!.event, context: claimed!.context, createdAt: claimed!.createdAt, held: false })
      })
      // The delivery split is gone: past every lease, only its parts are due.
      expect(ids(await store.claimDue(b, 10, t + 10 * a.leaseMs))).toEqual(split)
    })

    it('tells when the next delivery that is not held falls due, or a lease runs out', async () => {
      const { store } = subject
      expect(await store.nextDueAt()).toBeUndefined()
      const before = Date.now()
      const [x, y] = await store.record([delivery('function:a', 1), delivery('route:r', 2)])
      const due = await store.nextDueAt()
      expect(due).toBeGreaterThanOrEqual(before)
      expect(due).toBeLessThanOrEqual(Date.now())
      const t = Date.now()
      await store.claimDue(a, 10, t)
      expect(await store.nextDueAt()).toBe(t + a.leaseMs)
      await store.retryLater(x!, 1, t + 5_000, 'timeout')
      expect(await store.nextDueAt()).toBe(t + 5_000)
      await store.hold(y!)
      expect(await store.nextDueAt()).toBe(t + 5_000)
      await store.complete(x!)
      expect(await store.nextDueAt()).toBeUndefined()
    })

    it('makes every record asked for durable when flushed, so that the storage can be closed', async () => {
      const { store } = subject
      const recorded = store.record([delivery('function:a')])
      await store.flush()
      await subject.close()
      await expect(recorded).resolves.toHaveLength(1)
    })

    inOrderContract(subject)
    deadLettersContract(subject)
  })
}
