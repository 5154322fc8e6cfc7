import { describe, expect, it } from 'vitest'
import type { SessionStore } from '../session-store.js'
import { eachTest, type Open } from './subject.js'

const message = (topic: string, payload: string) => ({ cmd: 'publish', topic, payload: Buffer.from(payload), qos: 1, retain: false, dup: false })

/** A client's persistent session as a CONNECT, a SUBSCRIBE and offline traffic leave it. */
async function sessionOf(store: SessionStore, clientId: string, owner: string, connection: string): Promise<void> {
  expect(await store.claimSession(clientId, owner, 0, connection)).toBe(true)
  await store.addSubscriptions({ id: clientId }, [{ topic: `to/${clientId}/#`, qos: 1 }])
}

/** What the store keeps for a client, as Aedes reads it back. */
async function keptFor(store: SessionStore, clientId: string) {
  return {
    subscriptions: (await store.subscriptionsByClient({ id: clientId })).map((s) => s.topic),
    matching: (await store.subscriptionsByTopic(`to/${clientId}/x`)).map((s) => s.clientId),
    queued: (await store.outgoingStream({ id: clientId }).toArray()).map((p: { payload: Buffer }) => String(p.payload)),
  }
}

/**
 * What every SessionStore promises about the expiry of persistent sessions
 * (limits.sessionExpiry; storage/session-store.ts: claimSession,
 * markDisconnected, expireSessions), seen from outside. `open` gives a
 * store on fresh, empty storage for each test, set up with a broker.
 */
export function sessionExpiryContract(name: string, open: Open<SessionStore>): void {
  describe(`SessionStore expiry contract: ${name}`, () => {
    const subject = eachTest(open)

    it('expires a session whose client has been away longer than olderThan, with all it kept, once', async () => {
      const { store } = subject
      await sessionOf(store, 'dev-1', 'user:alice', 'c1')
      await store.outgoingEnqueue({ clientId: 'dev-1' }, message('to/dev-1/a', 'queued'))
      await store.incomingStorePacket({ id: 'dev-1' }, { ...message('in/1', 'qos2'), qos: 2, messageId: 7 })
      await store.putWill({ id: 'dev-1' }, message('wills/dev-1', 'gone'))
      const before = Date.now()
      await store.markDisconnected('dev-1', 'c1')
      const after = Date.now()
      expect(await keptFor(store, 'dev-1')).toEqual({ subscriptions: ['to/dev-1/#'], matching: ['dev-1'], queued: ['queued'] })

      expect(await store.expireSessions(60_000, 10)).toEqual([])
      const [expired, ...more] = await store.expireSessions(0, 10)
      expect(more).toEqual([])
      expect(expired).toMatchObject({ clientId: 'dev-1', owner: 'user:alice', connection: 'c1' })
      expect(expired!.disconnectedAt).toBeGreaterThanOrEqual(before)
      expect(expired!.disconnectedAt).toBeLessThanOrEqual(after)

      expect(await keptFor(store, 'dev-1')).toEqual({ subscriptions: [], matching: [], queued: [] })
      await expect(store.incomingGetPacket({ id: 'dev-1' }, { messageId: 7 })).rejects.toThrow()
      expect(await store.getWill({ id: 'dev-1' })).toBeUndefined()
      expect(await store.usage()).toMatchObject({ sessions: 0, queuedMessages: 0, queuedBytes: 0 })
      expect(await store.expireSessions(0, 10)).toEqual([])
      // The owner's place is free again (limits.sessions.maxPerUser).
      expect(await store.claimSession('dev-2', 'user:alice', 1, 'c2')).toBe(true)
    })

    it('never expires a session whose client is connected, or has reconnected', async () => {
      const { store } = subject
      await sessionOf(store, 'online', 'user:alice', 'c1')
      await sessionOf(store, 'back', 'user:alice', 'c2')
      await store.markDisconnected('back', 'c2')
      expect(await store.claimSession('back', 'user:alice', 0, 'c3')).toBe(true)
      expect(await store.expireSessions(0, 10)).toEqual([])
      expect((await keptFor(store, 'online')).subscriptions).toEqual(['to/online/#'])
      expect((await keptFor(store, 'back')).subscriptions).toEqual(['to/back/#'])
      expect(await store.usage()).toMatchObject({ sessions: 2 })
    })

    it('counts from the end of the connection that holds the session: one taken over changes nothing as it ends', async () => {
      const { store } = subject
      await sessionOf(store, 'dev-1', 'user:alice', 'old')
      expect(await store.claimSession('dev-1', 'user:alice', 0, 'new')).toBe(true)
      await store.markDisconnected('dev-1', 'old')
      expect(await store.expireSessions(0, 10)).toEqual([])
      await store.markDisconnected('dev-1', 'new')
      expect(await store.expireSessions(0, 10)).toMatchObject([{ clientId: 'dev-1', connection: 'new' }])
    })

    it('has nothing to expire once a clean CONNECT ended the session', async () => {
      const { store } = subject
      await sessionOf(store, 'dev-1', 'user:alice', 'c1')
      await store.markDisconnected('dev-1', 'c1')
      await store.releaseSession('dev-1')
      await store.cleanSubscriptions({ id: 'dev-1' })
      expect(await store.expireSessions(0, 10)).toEqual([])
    })

    it('leaves a session waiting as it was when a claim of its client id is refused', async () => {
      const { store } = subject
      await sessionOf(store, 'dev-1', 'user:alice', 'c1')
      await store.markDisconnected('dev-1', 'c1')
      await sessionOf(store, 'bobs', 'user:bob', 'c2')
      expect(await store.claimSession('dev-1', 'user:bob', 1, 'c3')).toBe(false)
      expect(await store.expireSessions(0, 10)).toMatchObject([{ clientId: 'dev-1', owner: 'user:alice', connection: 'c1' }])
    })

    it('expires at most `limit` sessions a call', async () => {
      const { store } = subject
      const ids = ['a', 'b', 'c', 'd', 'e']
      for (const id of ids) {
        await sessionOf(store, id, `user:${id}`, `conn-${id}`)
        await store.markDisconnected(id, `conn-${id}`)
      }
      const rounds: string[][] = []
      for (let i = 0; i < 4; i++) rounds.push((await store.expireSessions(0, 2)).map((s) => s.clientId))
      expect(rounds.map((r) => r.length)).toEqual([2, 2, 1, 0])
      expect(rounds.flat().sort()).toEqual(ids)
    })

    it('takes a long queue with it, and leaves the messages it shared with another session to that one', async () => {
      const { store } = subject
      await sessionOf(store, 'gone', 'user:alice', 'c1')
      await sessionOf(store, 'keeper', 'user:bob', 'c2')
      for (let i = 0; i < 1200; i++) await store.outgoingEnqueue({ clientId: 'gone' }, message('to/gone/x', `only ${i}`))
      for (let i = 0; i < 3; i++) await store.outgoingEnqueueCombi([{ clientId: 'gone' }, { clientId: 'keeper' }], message('to/both', `shared ${i}`))
      await store.markDisconnected('gone', 'c1')
      expect(await store.expireSessions(0, 10)).toMatchObject([{ clientId: 'gone' }])
      expect((await keptFor(store, 'keeper')).queued).toEqual(['shared 0', 'shared 1', 'shared 2'])
      expect((await keptFor(store, 'gone')).queued).toEqual([])
      const usage = await store.usage()
      expect(usage.queuedMessages).toBe(3)
      expect(usage.queuedBytes).toBeGreaterThan(0)
    })

    it('starts a new, empty session for a client id that comes back after its session expired', async () => {
      const { store } = subject
      await sessionOf(store, 'dev-1', 'user:alice', 'c1')
      await store.markDisconnected('dev-1', 'c1')
      await store.expireSessions(0, 10)
      expect(await store.claimSession('dev-1', 'user:alice', 1, 'c2')).toBe(true)
      expect(await keptFor(store, 'dev-1')).toEqual({ subscriptions: [], matching: [], queued: [] })
      expect(await store.usage()).toMatchObject({ sessions: 1 })
      expect(await store.expireSessions(0, 10)).toEqual([])
    })
  })
}
