import { describe, expect, it } from 'vitest'
import type { RouteStateStore } from '../route-state-store.js'
import { eachTest, type Open } from './subject.js'

const T = 1_700_000_000_000

const definition = {
  targets: [{ function: 'chatV1', weight: 90 }, { url: 'http://chat.example/v2', method: 'POST', headers: { 'x-key': 'k' }, weight: 10 }],
  fanout: false,
  retry: { attempts: 5, backoff: 'exponential', initialDelay: 100, maxAge: null },
  note: 'hé ✓',
}

const byName = <T extends { name: string }>(items: readonly T[]): T[] => [...items].sort((x, y) => x.name.localeCompare(y.name))

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
      expect(state.rules).toEqual([])
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

    it('saves a rule switch, replaces it, and clears it with null, each change at a higher version', async () => {
      const { store } = subject
      const start = await store.version()
      const off = await store.setRuleEnabled('audit', false, T)
      expect(off).toBeGreaterThan(start)
      expect((await store.read()).rules).toEqual([{ name: 'audit', enabled: false, updatedAt: T }])
      const on = await store.setRuleEnabled('audit', true, T + 1)
      expect(on).toBeGreaterThan(off)
      await store.setRuleEnabled('chat', false, T + 2)
      expect(byName((await store.read()).rules)).toEqual([{ name: 'audit', enabled: true, updatedAt: T + 1 }, { name: 'chat', enabled: false, updatedAt: T + 2 }])
      const cleared = await store.setRuleEnabled('audit', null, T + 3)
      expect(cleared).toBeGreaterThan(on)
      const state = await store.read()
      expect(state).toEqual({ version: cleared, routes: [], rules: [{ name: 'chat', enabled: false, updatedAt: T + 2 }] })
      expect(await store.version()).toBe(cleared)
      // Clearing a switch that is not there is still a change, at a version of its own.
      expect(await store.setRuleEnabled('nothing', null, T + 4)).toBeGreaterThan(cleared)
      expect((await store.read()).rules).toEqual([{ name: 'chat', enabled: false, updatedAt: T + 2 }])
    })

    it('keeps a rule switch and a route of the same name apart', async () => {
      const { store } = subject
      await store.putDefinition('chat', definition, T)
      await store.setHeld('chat', true, T + 1)
      await store.setRuleEnabled('chat', false, T + 2)
      expect(await store.read()).toMatchObject({ routes: [{ name: 'chat', definition, held: true, updatedAt: T }], rules: [{ name: 'chat', enabled: false, updatedAt: T + 2 }] })
      await store.setRuleEnabled('chat', null, T + 3)
      await store.setHeld('chat', false, T + 4)
      expect(await store.read()).toMatchObject({ routes: [{ name: 'chat', definition, held: false, updatedAt: T }], rules: [] })
    })
  })
}
