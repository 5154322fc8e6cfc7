import { describe, expect, it } from 'vitest'
import type { SessionOwnerStore } from '../session-owner-store.js'
import { eachTest, type Open } from './subject.js'

const alice = (persistent: boolean, connection = 'c1') => ({ username: 'alice', persistent, connection })
const bob = (persistent: boolean, connection = 'c2') => ({ username: 'bob', persistent, connection })

/**
 * What every SessionOwnerStore promises (storage/session-owner-store.ts),
 * seen from outside. `open` gives a store on fresh, empty storage for each test.
 */
export function sessionOwnerStoreContract(name: string, open: Open<SessionOwnerStore>): void {
  describe(`SessionOwnerStore contract: ${name}`, () => {
    const subject = eachTest(open)

    it('binds a free client id to the first user, refuses another user, and lets the owner claim it again', async () => {
      const { store } = subject
      expect(await store.claim('dev-1', alice(true), false)).toEqual({ ok: true })
      expect(await store.claim('dev-1', bob(true), false)).toEqual({ ok: false, owner: 'alice' })
      expect(await store.ownerOf('dev-1')).toEqual(alice(true))
      expect(await store.claim('dev-1', alice(false, 'c3'), false)).toEqual({ ok: true })
      expect(await store.ownerOf('dev-1')).toEqual(alice(false, 'c3'))
    })

    it('tells anonymous clients apart from users, and binds them to no one in particular', async () => {
      const { store } = subject
      expect(await store.claim('anon', { username: null, persistent: true, connection: 'a' }, false)).toEqual({ ok: true })
      expect(await store.claim('anon', alice(true), false)).toEqual({ ok: false, owner: null })
      expect(await store.claim('anon', { username: null, persistent: true, connection: 'b' }, false)).toEqual({ ok: true })
      expect(await store.claim('mine', alice(true), false)).toEqual({ ok: true })
      expect(await store.claim('mine', { username: null, persistent: false, connection: 'x' }, false)).toEqual({ ok: false, owner: 'alice' })
      expect(await store.claim('tab', { username: null, persistent: false, connection: 'c' }, false)).toEqual({ ok: true })
      expect(await store.claim('tab', { username: null, persistent: false, connection: 'd' }, false)).toEqual({ ok: true })
      expect(await store.claim('tab', alice(false), false)).toEqual({ ok: false, owner: null })
    })

    it('gives a held client id to another user when forced', async () => {
      const { store } = subject
      await store.claim('dev-1', alice(true), false)
      expect(await store.claim('dev-1', bob(false), true)).toEqual({ ok: true })
      expect(await store.ownerOf('dev-1')).toEqual(bob(false))
    })

    it('releases a clean session at the end of the connection that holds it, and only then', async () => {
      const { store } = subject
      await store.claim('tab', alice(false, 'first'), false)
      await store.claim('tab', alice(false, 'second'), false)
      await store.release('tab', 'first')
      expect(await store.ownerOf('tab')).toEqual(alice(false, 'second'))
      await store.release('tab', 'second')
      expect(await store.ownerOf('tab')).toBeUndefined()
      expect(await store.claim('tab', bob(false), false)).toEqual({ ok: true })
    })

    it('keeps a persistent session bound after its connection ends, until it is forgotten', async () => {
      const { store } = subject
      await store.claim('dev-1', alice(true, 'c1'), false)
      await store.release('dev-1', 'c1')
      expect(await store.ownerOf('dev-1')).toEqual(alice(true, 'c1'))
      await store.forget('dev-1')
      expect(await store.ownerOf('dev-1')).toBeUndefined()
    })

    it('forgets a persistent session\'s binding only if the connection named made it, and tells what it dropped', async () => {
      const { store } = subject
      await store.claim('dev-1', alice(true, 'old'), false)
      await store.claim('dev-1', alice(true, 'new'), false)
      expect(await store.forget('dev-1', 'old')).toBeUndefined()
      expect(await store.ownerOf('dev-1')).toEqual(alice(true, 'new'))
      expect(await store.forget('dev-1', 'new')).toEqual(alice(true, 'new'))
      expect(await store.ownerOf('dev-1')).toBeUndefined()
      expect(await store.forget('dev-1')).toBeUndefined()
      await store.claim('anon', { username: null, persistent: true, connection: 'a' }, false)
      expect(await store.forget('anon')).toEqual({ username: null, persistent: true, connection: 'a' })
    })

    it('drops the clean bindings of given client ids, or of all, and keeps the persistent ones', async () => {
      const { store } = subject
      await store.claim('a', alice(false), false)
      await store.claim('b', alice(false), false)
      await store.claim('c', alice(true), false)
      await store.claim('d', bob(false), false)
      await store.dropClean(['a', 'c'])
      expect([await store.ownerOf('a'), await store.ownerOf('b'), await store.ownerOf('c')]).toEqual([undefined, alice(false), alice(true)])
      await store.dropAllClean()
      expect([await store.ownerOf('b'), await store.ownerOf('c'), await store.ownerOf('d')]).toEqual([undefined, alice(true), undefined])
    })
  })
}
