import { Histogram, Registry } from 'prom-client'
import { expect, it } from 'vitest'
import { LatencyHistogram } from './latency-histogram.js'

it('renders the same text as prom-client Histogram for the same observations', async () => {
  const buckets = [0.0001, 0.001, 0.01, 0.1]
  const ours = new Registry()
  const theirs = new Registry()
  const fast = new LatencyHistogram({ name: 'op_seconds', help: 'Latency', labelName: 'op', labelValues: ['read', 'write'], buckets, registers: [ours] })
  const reference = new Histogram({ name: 'op_seconds', help: 'Latency', labelNames: ['op'], buckets, registers: [theirs] })
  // Every label value is present from the start in ours; make the reference's too.
  reference.zero({ op: 'read' })
  reference.zero({ op: 'write' })
  let seed = 7
  const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31)
  for (let i = 0; i < 1000; i++) {
    const op = random() < 0.5 ? 'read' : 'write'
    // Powers of two keep the sums exact, so the text compares byte for byte.
    const value = 2 ** -Math.floor(random() * 16)
    fast.series(op)(value)
    reference.observe({ op }, value)
  }
  expect(await ours.metrics()).toBe(await theirs.metrics())
  ours.resetMetrics()
  theirs.resetMetrics()
  reference.zero({ op: 'read' })
  reference.zero({ op: 'write' })
  expect(await ours.metrics()).toBe(await theirs.metrics())
})
