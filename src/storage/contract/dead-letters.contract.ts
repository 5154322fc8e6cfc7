import { expect, it } from 'vitest'
import type { OutboxStore } from '../outbox-store.js'
import { a, b, context, delivery, ids } from './outbox-fixtures.js'
import type { Subject } from './subject.js'

/** Records `count` deliveries (targets function:a and function:b in turn) and dead-letters them in order; resolves with the letters' ids. */
async function deadLettered(store: OutboxStore, count: number): Promise<number[]> {
  const recorded = await store.record(Array.from({ length: count }, (_, i) => delivery(`function:${i % 2 === 0 ? 'a' : 'b'}`, i)))
  const claimed = await store.claimDue(a, count, Date.now())
  expect(ids(claimed)).toEqual(recorded)
  return Promise.all(claimed.map((d, i) => store.deadLetter({ ...d, attempts: 3 }, `failure ${i}`)))
}

/** The OutboxStore's promises about dead letters: kept, listed and replayed. */
export function deadLettersContract(subject: Subject<OutboxStore>): void {
  it('moves a delivery to the dead letters with its error, and never claims it again', async () => {
    const { store } = subject
    const spec = { url: 'http://hooks.example/in', method: 'POST' }
    const [id] = await store.record([{ target: 'url:http://hooks.example/in', spec, event: { text: 'hi' }, context: context(1), via: 'hooks' }])
    const [claimed] = await store.claimDue(a, 10, Date.now())
    const before = Date.now()
    const letterId = await store.deadLetter({ ...claimed!, attempts: 5 }, 'HTTP 500')
    const after = Date.now()
    const letters = await store.deadLetters()
    expect(letters).toEqual([{
      id: letterId,
      deliveryId: id,
      target: 'url:http://hooks.example/in',
      spec,
      event: { text: 'hi' },
      context: context(1),
      via: 'hooks',
      attempts: 5,
      createdAt: claimed!.createdAt,
      failedAt: expect.any(Number),
      error: 'HTTP 500',
      lastError: 'HTTP 500',
    }])
    expect(letters[0]!.failedAt).toBeGreaterThanOrEqual(before)
    expect(letters[0]!.failedAt).toBeLessThanOrEqual(after)
    expect(await store.claimDue(b, 10, Date.now() + 10 * a.leaseMs)).toEqual([])
    expect(await store.nextDueAt()).toBeUndefined()
  })

  it('lists dead letters oldest first, by target and by id', async () => {
    const { store } = subject
    const letters = await deadLettered(store, 5)
    const [l0, l1, l2, l3, l4] = letters
    expect(ids(await store.deadLetters())).toEqual(letters)
    expect(ids(await store.deadLetters({}))).toEqual(letters)
    expect(ids(await store.deadLetters({ target: 'function:a' }))).toEqual([l0, l2, l4])
    expect(ids(await store.deadLetters({ target: 'function:nobody' }))).toEqual([])
    expect(ids(await store.deadLetters({ ids: [l3!, l1!] }))).toEqual([l1, l3])
    expect(ids(await store.deadLetters({ ids: [] }))).toEqual([])
    expect(ids(await store.deadLetters({ target: 'function:a', ids: [l1!, l2!] }))).toEqual([l2])
    expect(ids(await store.deadLetters({ limit: 2 }))).toEqual([l0, l1])
    expect(ids(await store.deadLetters({ target: 'function:b', limit: 1 }))).toEqual([l1])
    expect((await store.deadLetters({ ids: [l1!] }))[0]).toMatchObject({ target: 'function:b', error: 'failure 1', attempts: 3, event: { n: 1 } })
  })

  it('lists 100 dead letters unless told, and never more than 10,000', async () => {
    const { store } = subject
    const letters = await deadLettered(store, 10_001)
    expect(ids(await store.deadLetters())).toEqual(letters.slice(0, 100))
    expect(ids(await store.deadLetters({ limit: 20_000 }))).toEqual(letters.slice(0, 10_000))
  })

  it('replays dead letters as new deliveries, due now with fresh attempts, and forgets them', async () => {
    const { store } = subject
    const [l0, l1, l2] = await deadLettered(store, 3)
    const chosen = await store.deadLetters({ ids: [l0!, l2!] })
    const replayed = await store.replay(chosen)
    expect(replayed).toHaveLength(2)
    expect(ids(await store.deadLetters())).toEqual([l1])
    const t = Date.now()
    const claimed = await store.claimDue(b, 10, t)
    expect(ids(claimed)).toEqual(replayed)
    chosen.forEach((letter, i) => {
      expect(claimed[i]).toMatchObject({ target: letter.target, event: letter.event, context: letter.context, via: letter.via, attempts: 0, lastError: null, held: false, nextAt: t + b.leaseMs })
      expect(claimed[i]!.spec ?? null).toEqual(letter.spec ?? null)
    })
    expect(await store.replay([])).toEqual([])
  })
}
