import { describe, expect, it } from 'vitest'
import { runProgram } from '../../test/helpers/node-program.js'
import { givenFlags } from '../process/given-flags.js'
import { brokerV8Flags } from './v8-flags.js'

describe('brokerV8Flags', () => {
  it('turns pretenuring off, and keeps the memory reducer out of heaps that have had no full collection', () => {
    expect(brokerV8Flags(2, givenFlags([], ''))).toEqual(['--no-allocation-site-pretenuring', '--no-memory-reducer-for-small-heaps'])
  })

  it('scavenges on the main thread alone on one core', () => {
    expect(brokerV8Flags(1, givenFlags([], ''))).toContain('--no-parallel-scavenge')
  })

  it('leaves the memory reducer to the command line or NODE_OPTIONS when they say how it is to run', () => {
    for (const said of ['--memory-reducer-for-small-heaps', '--no-memory-reducer', '--memory_reducer']) {
      expect(brokerV8Flags(2, givenFlags([], said))).not.toContain('--no-memory-reducer-for-small-heaps')
    }
  })
})

// A worker thread that makes a few megabytes it keeps, then allocates
// nothing, as the WAL checkpointer's does once its module is loaded. V8's
// reducer looks 5 s after (8 s unless told), and again every 8 s while it
// does not find the isolate idle: on a machine busy with other work (two
// other processes spinning on its two cores), it collected at 13 s, not 5,
// so the thread lives 20 s.
const PROGRAM = `
import { Worker } from 'node:worker_threads'
import { setFlagsFromString } from 'node:v8'
setFlagsFromString('--gc-memory-reducer-start-delay-ms=5000')
for (const flag of JSON.parse(process.env.FLAGS)) setFlagsFromString(flag)
new Worker(\`
  const kept = []
  for (let i = 0; i < 30000; i++) kept.push({ i, text: 'x'.repeat(40) + i })
  setTimeout(() => { kept.length = 0 }, 20000)
\`, { eval: true })
`

/**
 * The full collections V8's memory reducer ran in the program's worker
 * thread, set up with `flags`. Plain JavaScript: tsx's own worker thread
 * would have a heap of its own to reduce.
 */
async function reducingCollections(flags: string[]): Promise<number> {
  const { stdout } = await runProgram(PROGRAM, { nodeFlags: ['--trace-gc'], env: { FLAGS: JSON.stringify(flags) }, typescript: false })
  return stdout.split('\n').filter((line) => line.includes('Mark-Compact (reduce)')).length
}

it('spares an idle worker thread the full collections of V8\'s memory reducer', async () => {
  const [asV8Does, asSet] = await Promise.all([
    // The control: if a Node.js release no longer reduces such a heap, this
    // fails, and the flag is no longer needed.
    reducingCollections(brokerV8Flags(2, givenFlags(['--memory-reducer-for-small-heaps'], ''))),
    reducingCollections(brokerV8Flags(2, givenFlags([], ''))),
  ])
  expect(asV8Does).toBeGreaterThan(0)
  expect(asSet).toBe(0)
}, 40_000)
