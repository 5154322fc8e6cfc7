import { describe, expect, it } from 'vitest'
import { IdMap, IdSet } from './id-map.js'

describe('IdMap', () => {
  it('keeps, replaces and deletes values by id, counting them', () => {
    const map = new IdMap<string>()
    expect(map.set(7, 'a')).toBe(map)
    map.set(3, 'b').set(7, 'c')
    expect(map.size).toBe(2)
    expect(map.get(7)).toBe('c')
    expect(map.get(4)).toBeUndefined()
    expect(map.delete(7)).toBe(true)
    expect(map.delete(7)).toBe(false)
    expect(map.has(7)).toBe(false)
    expect(map.size).toBe(1)
  })

  it('holds undefined as a value, apart from no value', () => {
    const map = new IdMap<number | undefined>()
    map.set(1, undefined)
    expect(map.has(1)).toBe(true)
    expect(map.size).toBe(1)
    map.set(1, undefined)
    expect(map.size).toBe(1)
  })

  it('goes through its ids in ascending order, as numbers', () => {
    const map = new IdMap<string>()
    for (const id of [40, 2, 1_000_000, 0, 17]) map.set(id, `v${id}`)
    map.delete(17)
    expect([...map.keys()]).toEqual([0, 2, 40, 1_000_000])
    expect([...map.values()]).toEqual(['v0', 'v2', 'v40', 'v1000000'])
  })

  it('takes ids past the array indices', () => {
    const map = new IdMap<string>()
    const big = 2 ** 40
    map.set(big, 'big').set(5, 'small')
    expect(map.get(big)).toBe('big')
    expect(map.has(big)).toBe(true)
    expect([...map.keys()].sort((a, b) => a - b)).toEqual([5, big])
    expect(map.delete(big)).toBe(true)
    expect(map.size).toBe(1)
  })

  it('stays right under the churn it is for: ids handed out in sequence, each deleted soon after', () => {
    const map = new IdMap<{ id: number }>()
    const live: number[] = []
    let missing = 0
    for (let id = 1; id <= 100_000; id++) {
      map.set(id, { id })
      live.push(id)
      if (live.length > 64 && !map.delete(live.shift()!)) missing++
    }
    expect(missing).toBe(0)
    expect(map.size).toBe(64)
    expect([...map.keys()]).toEqual(live)
    expect(map.get(100_000)).toEqual({ id: 100_000 })
  })
})

describe('IdSet', () => {
  it('adds, finds, deletes and counts ids, and goes through them in ascending order', () => {
    const set = new IdSet()
    set.add(9).add(1).add(9)
    expect(set.size).toBe(2)
    expect(set.has(9)).toBe(true)
    expect([...set]).toEqual([1, 9])
    expect(set.delete(9)).toBe(true)
    expect(set.delete(9)).toBe(false)
    expect([...set]).toEqual([1])
  })
})
