import { getHeapStatistics } from 'node:v8'
import { afterEach, expect, it } from 'vitest'
import { collectWhenIdle, type IdleCollection } from './idle-collection.js'

let collection: IdleCollection | undefined
afterEach(() => collection?.stop())

const physical = () => getHeapStatistics().total_physical_size

it('collects the heap in the first quiet second after it has grown, and gives its pages back', async () => {
  const collected: number[] = []
  collection = collectWhenIdle({ collected: (before) => collected.push(before) })
  const atStart = physical()
  // A burst: tens of MB of objects kept long enough to be promoted, then dropped.
  let burst: Array<{ n: number; s: string }> | undefined = []
  for (let i = 0; i < 800_000; i++) burst.push({ n: i, s: `payload ${i} `.repeat(4) })
  await new Promise((resolve) => setTimeout(resolve, 50))
  const grown = physical()
  expect(grown).toBeGreaterThan(atStart + 40 * 1024 * 1024)
  const halfway = atStart + (grown - atStart) / 2
  burst = undefined
  // Once: the collection brings the heap back towards its size at rest.
  await expect.poll(() => collected.length, { timeout: 10_000, interval: 100 }).toBe(1)
  await expect.poll(physical, { timeout: 5000, interval: 100 }).toBeLessThan(halfway)
  expect(collected).toHaveLength(1)
})
