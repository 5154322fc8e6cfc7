import { describe, expect, it } from 'vitest'
import { WeightedPicker } from './weighted-picker.js'

describe('WeightedPicker', () => {
  it('splits 10,000 events 90/10 within 2 points (exactly, in fact)', () => {
    const picker = new WeightedPicker(['v1', 'v2'], [90, 10])
    const counts = { v1: 0, v2: 0 }
    for (let i = 0; i < 10_000; i++) counts[picker.pick() as 'v1' | 'v2']++
    expect(Math.abs(counts.v1 / 100 - 90)).toBeLessThanOrEqual(2)
    expect(counts).toEqual({ v1: 9000, v2: 1000 })
  })

  it('spreads the small share out instead of sending it in a run', () => {
    const picker = new WeightedPicker(['a', 'b'], [9, 1])
    const window = Array.from({ length: 10 }, () => picker.pick())
    expect(window.filter((x) => x === 'b')).toHaveLength(1)
  })

  it('follows uneven weights and skips weight 0', () => {
    const picker = new WeightedPicker(['a', 'b', 'c', 'd'], [5, 3, 2, 0])
    const counts: Record<string, number> = {}
    for (let i = 0; i < 1000; i++) {
      const x = picker.pick()
      counts[x] = (counts[x] ?? 0) + 1
    }
    expect(counts).toEqual({ a: 500, b: 300, c: 200 })
  })

  it('refuses weights that are all 0', () => {
    expect(() => new WeightedPicker(['a'], [0])).toThrow(/above 0/)
  })
})
