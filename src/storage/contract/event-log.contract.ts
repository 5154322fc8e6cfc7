import { describe, expect, it } from 'vitest'
import { StoreError } from '../../errors.js'
import type { EventLog, NewEvent } from '../event-log.js'
import { eachTest, type Open } from './subject.js'

/** A long time ago, so that no clock makes these events expire: only expiresAt does. */
const T = 1_700_000_000_000

function event(n: number, more: Partial<NewEvent> = {}): NewEvent {
  return { table: 'readings', key: null, timestamp: T + n * 1000, topic: `sensors/${n}`, clientId: `device-${n}`, data: { n }, expiresAt: null, ...more }
}

const topics = (events: readonly { topic: string }[]): string[] => events.map((e) => e.topic)

/**
 * What every EventLog promises (storage/event-log.ts), seen from outside.
 * `open` gives a log on fresh, empty storage for each test.
 */
export function eventLogContract(name: string, open: Open<EventLog>): void {
  describe(`EventLog contract: ${name}`, () => {
    const subject = eachTest(open)

    it('reads back what was appended, newest first', async () => {
      const { store } = subject
      const data = { text: 'hé ✓', nested: [1, { b: null, c: true }], n: 1.5 }
      await Promise.all([
        store.append(event(1)),
        store.append(event(3, { key: 'room-1', data, clientId: null, expiresAt: Date.now() + 3_600_000 })),
        store.append(event(2, { data: 'plain' })),
      ])
      const events = await store.query('readings')
      expect(topics(events)).toEqual(['sensors/3', 'sensors/2', 'sensors/1'])
      expect(events[0]).toEqual({ ...event(3, { key: 'room-1', data, clientId: null, expiresAt: events[0]!.expiresAt }), id: expect.any(Number) })
      expect(events[0]!.expiresAt).toBeGreaterThan(Date.now())
      expect(events[1]).toEqual({ ...event(2, { data: 'plain' }), id: expect.any(Number) })
      expect(new Set(events.map((e) => e.id)).size).toBe(3)
    })

    it('keeps tables apart', async () => {
      const { store } = subject
      await Promise.all([store.append(event(1, { key: 'k' })), store.append(event(2, { table: 'chat', key: 'k' }))])
      expect(topics(await store.query('readings'))).toEqual(['sensors/1'])
      expect(topics(await store.query('chat', { key: 'k' }))).toEqual(['sensors/2'])
      expect(await store.query('nothing')).toEqual([])
    })

    it('reads by key, since a time (inclusive), until a time (exclusive) and up to a limit', async () => {
      const { store } = subject
      await Promise.all([1, 2, 3, 4, 5, 6].map((n) => store.append(event(n, { key: n % 2 === 0 ? 'even' : 'odd' }))))
      expect(topics(await store.query('readings', { key: 'even' }))).toEqual(['sensors/6', 'sensors/4', 'sensors/2'])
      expect(topics(await store.query('readings', { key: 'none' }))).toEqual([])
      expect(topics(await store.query('readings', { since: T + 4000 }))).toEqual(['sensors/6', 'sensors/5', 'sensors/4'])
      expect(topics(await store.query('readings', { until: T + 3000 }))).toEqual(['sensors/2', 'sensors/1'])
      expect(topics(await store.query('readings', { since: T + 2000, until: T + 5000 }))).toEqual(['sensors/4', 'sensors/3', 'sensors/2'])
      expect(topics(await store.query('readings', { key: 'odd', since: T + 2000, until: T + 5000 }))).toEqual(['sensors/3'])
      expect(topics(await store.query('readings', { limit: 2 }))).toEqual(['sensors/6', 'sensors/5'])
      expect(topics(await store.query('readings', { key: 'odd', limit: 2 }))).toEqual(['sensors/5', 'sensors/3'])
    })

    it('reads 100 events unless told, at least 1 and at most 1,000', async () => {
      const { store } = subject
      await Promise.all(Array.from({ length: 1001 }, (_, n) => store.append(event(n))))
      const newest = (count: number) => Array.from({ length: count }, (_, i) => `sensors/${1000 - i}`)
      expect(topics(await store.query('readings'))).toEqual(newest(100))
      expect(topics(await store.query('readings', { limit: 5000 }))).toEqual(newest(1000))
      expect(topics(await store.query('readings', { limit: 0 }))).toEqual(newest(1))
      expect(topics(await store.query('readings', { limit: -3 }))).toEqual(newest(1))
    })

    it('never returns an expired event, swept or not', async () => {
      const { store } = subject
      const now = Date.now()
      await Promise.all([
        store.append(event(1)),
        store.append(event(2, { expiresAt: now - 1 })),
        store.append(event(3, { expiresAt: now + 3_600_000 })),
        store.append(event(4, { key: 'k', expiresAt: now - 60_000 })),
      ])
      expect(topics(await store.query('readings'))).toEqual(['sensors/3', 'sensors/1'])
      expect(await store.query('readings', { key: 'k' })).toEqual([])
    })

    it('deletes the events expired at a time, and says how many', async () => {
      const { store } = subject
      const now = Date.now()
      await Promise.all([
        store.append(event(1)),
        store.append(event(2, { expiresAt: now - 1000 })),
        store.append(event(3, { expiresAt: now + 3_600_000 })),
        store.append(event(4, { table: 'chat', expiresAt: now - 1 })),
      ])
      expect(await store.sweepExpired(now - 1001)).toBe(0)
      expect(await store.sweepExpired(now - 1000)).toBe(1)
      expect(await store.sweepExpired(now)).toBe(1)
      expect(await store.sweepExpired(now)).toBe(0)
      expect(topics(await store.query('readings'))).toEqual(['sensors/3', 'sensors/1'])
      // Swept ahead of the clock, an event goes before it would have expired.
      expect(await store.sweepExpired(now + 3_600_000)).toBe(1)
      expect(topics(await store.query('readings'))).toEqual(['sensors/1'])
    })

    it('refuses an event whose data cannot be written as JSON, and fails no other append of its turn', async () => {
      const { store } = subject
      let deep: unknown = []
      for (let i = 0; i < 100_000; i++) deep = [deep]
      const circular: Record<string, unknown> = {}
      circular.self = circular
      const outcomes = await Promise.allSettled([
        store.append(event(1)),
        store.append(event(2, { data: circular })),
        store.append(event(3, { data: deep })),
        store.append(event(4)),
      ])
      expect(outcomes.map((o) => o.status)).toEqual(['fulfilled', 'rejected', 'rejected', 'fulfilled'])
      for (const refused of [outcomes[1], outcomes[2]] as PromiseRejectedResult[]) {
        expect(refused.reason).toBeInstanceOf(StoreError)
        expect((refused.reason as Error).message).toMatch(/table readings/)
      }
      expect(topics(await store.query('readings'))).toEqual(['sensors/4', 'sensors/1'])
    })

    it('keeps the newest rows of a table past its limit, its own or the log\'s, and reports the rows deleted', async () => {
      const { store } = subject
      const trimmed: Array<[string, number]> = []
      store.setRowLimit(3, (table, n) => trimmed.push([table, n]))
      const now = Date.now()
      // Out of time order, with keys (one with a quote and a backslash) and expiries: all of an event goes with it.
      const order = [2, 1, 5, 3, 4, 7, 6]
      await Promise.all(order.map((n) => store.append(event(n, { key: n % 2 === 0 ? 'even "\\ key' : 'odd', expiresAt: n % 3 === 0 ? now + 3_600_000 : null }))))
      expect(topics(await store.query('readings'))).toEqual(['sensors/7', 'sensors/6', 'sensors/5'])
      expect(topics(await store.query('readings', { key: 'even "\\ key' }))).toEqual(['sensors/6'])
      expect(topics(await store.query('readings', { key: 'odd' }))).toEqual(['sensors/7', 'sensors/5'])
      expect(trimmed.reduce((sum, [, n]) => sum + n, 0)).toBe(4)
      expect(await store.rowCounts()).toEqual(new Map([['readings', 3]]))
      // An append's own limit: another table, and 0 for none.
      await Promise.all([1, 2, 3].map((n) => store.append(event(n, { table: 'chat', maxRows: 2 }))))
      await Promise.all([1, 2, 3, 4].map((n) => store.append(event(n, { table: 'all', maxRows: 0 }))))
      expect(topics(await store.query('chat'))).toEqual(['sensors/3', 'sensors/2'])
      expect(topics(await store.query('all'))).toHaveLength(4)
      expect(await store.rowCounts()).toEqual(new Map([['readings', 3], ['chat', 2], ['all', 4]]))
      // Sweeping the expired ones of what is left: the counts follow.
      expect(await store.sweepExpired(now + 7_200_000)).toBe(1)
      expect((await store.rowCounts()).get('readings')).toBe(2)
    })

    it('makes every append asked for durable when flushed, so that the storage can be closed', async () => {
      const { store } = subject
      const appended = [store.append(event(1)), store.append(event(2))]
      await store.flush()
      await subject.close()
      await expect(Promise.all(appended)).resolves.toEqual([undefined, undefined])
    })
  })
}
