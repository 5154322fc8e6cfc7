import { describe, expect, it } from 'vitest'
import { prng } from '../test/faults/mqtt-fuzz.js'
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

  it('agrees with a Map over random additions, replacements and deletions, colliding ids among them', () => {
    const random = prng(20261205)
    const map = new IdMap<number>()
    const reference = new Map<number, number>()
    // Ids that share their low 32 bits share a home slot: they collide.
    const pool = Array.from({ length: 300 }, (_, i) => (i % 3 === 0 ? i * 2 ** 32 + 7 : i % 3 === 1 ? i : Math.floor(random() * 2 ** 53)))
    for (let step = 0; step < 50_000; step++) {
      const id = pool[Math.floor(random() * pool.length)]!
      // Phases that grow the map past several doublings, then shrink it back.
      const adding = Math.floor(step / 5000) % 2 === 0 ? random() < 0.7 : random() < 0.3
      if (adding) {
        map.set(id, step)
        reference.set(id, step)
      } else {
        expect(map.delete(id)).toBe(reference.delete(id))
      }
      expect(map.size).toBe(reference.size)
      const probe = pool[Math.floor(random() * pool.length)]!
      expect(map.has(probe)).toBe(reference.has(probe))
      expect(map.get(probe)).toBe(reference.get(probe))
    }
    const ids = [...reference.keys()].sort((a, b) => a - b)
    expect([...map.keys()]).toEqual(ids)
    expect([...map.values()]).toEqual(ids.map((id) => reference.get(id)))
  })

  it('refuses an id that is not a safe integer', () => {
    const map = new IdMap<string>()
    for (const id of [Number.NaN, 1.5, 2 ** 53, Infinity]) expect(() => map.set(id, 'x')).toThrow(RangeError)
    expect(map.size).toBe(0)
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
