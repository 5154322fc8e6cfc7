import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { openDatabase, type Db } from '../store/database.js'
import { SqliteRouteStateStore } from '../store/route-state.js'
import { RouteTable } from './route-table.js'
import { routesSchema } from './schema.js'

const functions = new Set(['chatV1', 'chatV2', 'welcome'])
const config = routesSchema.parse({
  'chat-handler': { targets: [{ function: 'chatV1', weight: 90 }, { function: 'chatV2', weight: 10 }] },
  'new-user': { fanout: true, targets: [{ function: 'welcome' }, { topic: 'audit/users' }] },
})

let db: Db
beforeEach(() => {
  db = openDatabase(':memory:')
})
afterEach(() => db.close())

describe('RouteTable', () => {
  /** A table on the database's saved state, as read at start. */
  async function tableOn(db: Db): Promise<RouteTable> {
    const table = new RouteTable(new SqliteRouteStateStore(db))
    await table.refresh()
    return table
  }

  it('picks by weight, or every target for a fanout', async () => {
    const table = await tableOn(db)
    table.load(config, functions)
    const picks = Array.from({ length: 100 }, () => table.pick('chat-handler')![0]!)
    expect(picks.filter((t) => 'function' in t && t.function === 'chatV2')).toHaveLength(10)
    expect(table.pick('new-user')).toHaveLength(2)
    expect(table.pick('nope')).toBeUndefined()
  })

  it('repoints live, and keeps API changes and holds across a restart and a config reload', async () => {
    const table = await tableOn(db)
    table.load(config, functions)
    const view = await table.put('chat-handler', { targets: [{ function: 'chatV2' }] }, functions)
    expect(view).toMatchObject({ source: 'api', held: false, targets: [{ function: 'chatV2', weight: 1 }] })
    expect(table.pick('chat-handler')).toEqual([{ function: 'chatV2', weight: 1 }])
    await table.setHeld('new-user', true)

    const restarted = await tableOn(db)
    restarted.load(config, functions)
    expect(restarted.get('chat-handler')).toMatchObject({ source: 'api', targets: [{ function: 'chatV2' }] })
    expect(restarted.isHeld('new-user')).toBe(true)
    expect(restarted.get('new-user')!.source).toBe('config')
  })

  it('refuses a change that names a missing function or makes a cycle, and changes nothing', async () => {
    const table = await tableOn(db)
    table.load(config, functions)
    await expect(table.put('chat-handler', { targets: [{ function: 'ghost' }] }, functions)).rejects.toThrow(/names function ghost/)
    await table.put('a', { targets: [{ route: 'chat-handler' }] }, functions)
    await expect(table.put('chat-handler', { targets: [{ route: 'a' }] }, functions)).rejects.toThrow(/forms a cycle: chat-handler → a → chat-handler|forms a cycle: a → chat-handler → a/)
    await expect(table.put('chat-handler', { targets: [] }, functions)).rejects.toThrow(/at least one target/)
    expect(table.get('chat-handler')!.source).toBe('config')
  })

  it('holds the version it read or wrote, and reads another process\' change over the config it was loaded with', async () => {
    const table = await tableOn(db)
    table.load(config, functions)
    expect(table.version).toBe(0)
    await table.setHeld('new-user', true)
    expect(table.version).toBe(1)
    // Another process writes twice: this table's next write jumps, and its version waits for a read.
    const other = await tableOn(db)
    other.load(config, functions)
    await other.put('chat-handler', { targets: [{ function: 'welcome' }] }, functions)
    await table.setHeld('new-user', false)
    expect(table.version).toBe(1)
    expect(await table.refresh()).toBe(3)
    expect(table.get('chat-handler')).toMatchObject({ source: 'api', targets: [{ function: 'welcome' }] })
    expect(table.isHeld('new-user')).toBe(false)
  })

  it('keeps the weighted picker of a route that a read did not change', async () => {
    const table = await tableOn(db)
    table.load(routesSchema.parse({ canary: { targets: [{ function: 'chatV1', weight: 9 }, { function: 'chatV2', weight: 1 }] } }), functions)
    const picks: unknown[] = []
    for (let i = 0; i < 10; i++) {
      picks.push(table.pick('canary')![0])
      await table.refresh()
    }
    expect(picks.filter((t) => (t as { function: string }).function === 'chatV2')).toHaveLength(1)
  })
})
