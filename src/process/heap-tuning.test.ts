import { expect, it } from 'vitest'
import { runProgram } from '../../test/helpers/node-program.js'

const MODULE = new URL('./heap-tuning.ts', import.meta.url).href

// A program whose young objects outlive a few scavenges: V8 grows its young
// generation to the 32 MB limit for it. Prints the largest size it saw.
// With WORKERS set, a worker thread starts every 500,000 objects.
const PROGRAM = `
import { getHeapSpaceStatistics } from 'node:v8'
import { Worker } from 'node:worker_threads'
import { tuneHeap } from ${JSON.stringify(MODULE)}
tuneHeap({ growingPercent: 30, maxSemiSpaceMb: 4 })
const ring = new Array(30000)
let largest = 0
const workers = []
for (let i = 0; i < 3e6; i++) {
  ring[i % ring.length] = { a: i, b: [i, i + 1], s: 'x' + i }
  if (process.env.WORKERS && i % 500000 === 250000) {
    const worker = new Worker('setInterval(() => {}, 1000)', { eval: true })
    await new Promise((resolve) => worker.once('online', resolve))
    workers.push(worker)
  }
  if (i % 1000 === 0) await new Promise(setImmediate)
  if (i % 50000 === 0) largest = Math.max(largest, getHeapSpaceStatistics().find((s) => s.space_name === 'new_space').space_size)
}
console.log(largest)
for (const worker of workers) await worker.terminate()
`

async function largestYoungGeneration(nodeFlags: string[] = [], env: Record<string, string> = {}): Promise<number> {
  const { stdout } = await runProgram(PROGRAM, { nodeFlags, env })
  return Number(stdout.trim())
}

const MB = 1024 * 1024

it('lets the young generation grow to its bound and no further', async () => {
  // Two semi-spaces of at most 4 MB. Each growth doubles a semi-space, from
  // 1 MB, so it ends at 4; but V8 shrinks the young generation of an isolate
  // that allocates slowly, as one does on a busy machine, to a size of its
  // own (1.25 MB was seen), and doubling from there stops short of the
  // bound (2.5 MB). From any size it may restart from, it ends above 2 MB.
  const largest = await largestYoungGeneration()
  expect(largest).toBeLessThanOrEqual(8 * MB)
  expect(largest).toBeGreaterThan(4 * MB)
}, 60_000)

it('lets V8 grow the young generation as it would once a worker thread has started', async () => {
  expect(await largestYoungGeneration([], { WORKERS: '1' })).toBe(32 * MB)
}, 60_000)

it('leaves the young generation alone when the command line sizes it', async () => {
  expect(await largestYoungGeneration(['--max-semi-space-size=16'])).toBe(32 * MB)
}, 60_000)
