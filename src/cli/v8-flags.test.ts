import { describe, expect, it } from 'vitest'
import { startProgram } from '../../test/helpers/node-program.js'
import { waitUntil } from '../../test/helpers/wait.js'
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
// nothing, as the WAL checkpointer's does once its module is loaded, and
// says so on stdout. V8's reducer looks 5 s after (8 s unless told), and
// again every 8 s while it does not find the isolate idle. It collected
// 13 s after on a quiet machine, and 22 s after on one busy with other
// work (two processes spinning on its two cores). So the program runs
// until it is ended, and the test watches it for as long as the control
// took.
const PROGRAM = `
import { Worker } from 'node:worker_threads'
import { setFlagsFromString } from 'node:v8'
setFlagsFromString('--gc-memory-reducer-start-delay-ms=5000')
for (const flag of JSON.parse(process.env.FLAGS)) setFlagsFromString(flag)
new Worker(\`
  const kept = []
  for (let i = 0; i < 30000; i++) kept.push({ i, text: 'x'.repeat(40) + i })
  console.log('kept')
  setInterval(() => kept.length, 1 << 30)
\`, { eval: true })
`

const REDUCE = 'Mark-Compact (reduce)'

/** The program set up with `flags`, under --trace-gc: when its worker thread had made what it keeps, and the memory reducer's full collections, in any of its threads. */
class Traced {
  readonly child
  keptAt: number | undefined
  reducedAt: number[] = []
  #seen = ''

  constructor(flags: string[]) {
    // Plain JavaScript: tsx's own worker thread would have a heap of its own to reduce.
    this.child = startProgram(PROGRAM, { nodeFlags: ['--trace-gc'], env: { FLAGS: JSON.stringify(flags) }, typescript: false })
    this.child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      const lines = (this.#seen + chunk).split('\n')
      this.#seen = lines.pop()!
      for (const line of lines) {
        if (line === 'kept') this.keptAt = Date.now()
        else if (line.includes(REDUCE)) this.reducedAt.push(Date.now())
      }
    })
  }

  /** Ended, and whatever it printed before read. */
  end(): Promise<unknown> {
    return new Promise((resolve) => {
      if (this.child.exitCode !== null || this.child.signalCode !== null) return resolve(undefined)
      this.child.once('close', resolve)
      this.child.kill('SIGKILL')
    })
  }
}

it('spares an idle worker thread the full collections of V8\'s memory reducer', async () => {
  // The control: if a Node.js release no longer reduces such a heap, this
  // fails, and the flag is no longer needed.
  const asV8Does = new Traced(brokerV8Flags(2, givenFlags(['--memory-reducer-for-small-heaps'], '')))
  const asSet = new Traced(brokerV8Flags(2, givenFlags([], '')))
  try {
    await waitUntil(() => asV8Does.keptAt !== undefined && asV8Does.reducedAt.length > 0, { timeout: 60_000, interval: 100, what: 'the memory reducer of the control' })
    // Watched for as long after its thread kept its heap as the control, and one more look of the reducer (8 s).
    const took = asV8Does.reducedAt[0]! - asV8Does.keptAt!
    await waitUntil(() => asSet.keptAt !== undefined && Date.now() >= asSet.keptAt + took + 8000, { timeout: 70_000, interval: 100, what: 'as long a watch' })
  } finally {
    await Promise.all([asV8Does.end(), asSet.end()])
  }
  // In ms after its thread kept its heap.
  expect(asSet.reducedAt.map((at) => at - asSet.keptAt!)).toEqual([])
}, 150_000)
