import { describe, expect, it } from 'vitest'
import type { RouteStateStore, SavedRoute } from '../route-state-store.js'
import { eachTest, type Open } from './subject.js'

const T = 1_700_000_000_000

const definition = {
  targets: [{ function: 'chatV1', weight: 90 }, { url: 'http://chat.example/v2', method: 'POST', headers: { 'x-key': 'k' }, weight: 10 }],
  fanout: false,
  retry: { attempts: 5, backoff: 'exponential', initialDelay: 100, maxAge: null },
  note: 'hé ✓',
}

const byName = (routes: readonly SavedRoute[]): SavedRoute[] => [...routes].sort((x, y) => x.name.localeCompare(y.name))

/**
 * What every RouteStateStore promises (storage/route-state-store.ts), seen
 * from outside. `open` gives a store on fresh, empty storage for each test.
 */
export function routeStateStoreContract(name: string, open: Open<RouteStateStore>): void {
  describe(`RouteStateStore contract: ${name}`, () => {
    const subject = eachTest(open)

    it('reads no routes when nothing was saved, at the version it reports', async () => {
      const { store } = subject
      const state = await store.read()
      expect(state.routes).toEqual([])
      expect(await store.version()).toBe(state.version)
    })

    it('moves to a higher version with every change, and reads at the version it reports', async () => {
      const { store } = subject
      const start = await store.version()
      const versions = [
        await store.putDefinition('chat', definition, T),
        await store.setHeld('chat', true, T + 1),
        await store.setHeld('audit', true, T + 2),
        await store.putDefinition('chat', { targets: [{ function: 'chatV2' }] }, T + 3),
        await store.setHeld('chat', false, T + 4),
      ]
      let previous = start
      for (const version of versions) {
        expect(version).toBeGreaterThan(previous)
        previous = version
      }
      expect(await store.version()).toBe(previous)
      expect((await store.read()).version).toBe(previous)
    })

    it('reads a definition back as it was put, with when', async () => {
      const { store } = subject
      await store.putDefinition('chat', definition, T)
      await store.putDefinition('audit', { targets: [{ topic: 'audit/users' }], fanout: true }, T + 1)
      expect(byName((await store.read()).routes)).toEqual([
        { name: 'audit', definition: { targets: [{ topic: 'audit/users' }], fanout: true }, held: false, updatedAt: T + 1 },
        { name: 'chat', definition, held: false, updatedAt: T },
      ])
    })

    it('replaces a definition put again', async () => {
      const { store } = subject
      await store.putDefinition('chat', definition, T)
      await store.putDefinition('chat', { targets: [{ function: 'chatV2' }] }, T + 5)
      expect((await store.read()).routes).toEqual([{ name: 'chat', definition: { targets: [{ function: 'chatV2' }] }, held: false, updatedAt: T + 5 }])
    })

    it('saves the hold flag of a route with no definition, with none, until one is put', async () => {
      const { store } = subject
      await store.setHeld('new-user', true, T)
      expect((await store.read()).routes).toEqual([{ name: 'new-user', definition: null, held: true, updatedAt: null }])
      await store.setHeld('new-user', false, T + 1)
      expect((await store.read()).routes).toEqual([{ name: 'new-user', definition: null, held: false, updatedAt: null }])
      await store.setHeld('new-user', true, T + 2)
      await store.putDefinition('new-user', { targets: [{ function: 'welcome' }] }, T + 3)
      expect((await store.read()).routes).toEqual([{ name: 'new-user', definition: { targets: [{ function: 'welcome' }] }, held: true, updatedAt: T + 3 }])
    })

    it('keeps a definition when the hold flag is set, and the hold flag when a definition is put', async () => {
      const { store } = subject
      await store.putDefinition('chat', definition, T)
      await store.setHeld('chat', true, T + 1)
      expect((await store.read()).routes).toEqual([{ name: 'chat', definition, held: true, updatedAt: T }])
      await store.putDefinition('chat', { targets: [{ function: 'chatV2' }] }, T + 2)
      expect((await store.read()).routes).toEqual([{ name: 'chat', definition: { targets: [{ function: 'chatV2' }] }, held: true, updatedAt: T + 2 }])
      await store.setHeld('chat', false, T + 3)
      expect((await store.read()).routes).toEqual([{ name: 'chat', definition: { targets: [{ function: 'chatV2' }] }, held: false, updatedAt: T + 2 }])
    })
  })
}
