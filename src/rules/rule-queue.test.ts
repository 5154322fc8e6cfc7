import { performance } from 'node:perf_hooks'
import { Registry } from 'prom-client'
import { describe, expect, it } from 'vitest'
import type { Work } from './rule-event.js'
import { RuleQueue } from './rule-queue.js'

const spin = (ms: number) => {
  const until = performance.now() + ms
  while (performance.now() < until);
}

/** Runs `messages` through a queue whose evaluation takes `msEach`; returns how many each turn of the event loop evaluated, from the first that evaluated any. */
async function slices(messages: number, msEach: number, longCommitNext?: () => boolean): Promise<number[]> {
  let turn = 0
  const perTurn = new Map<number, number>()
  let evaluated = 0
  let finished!: () => void
  const done = new Promise<void>((resolve) => (finished = resolve))
  const queue = new RuleQueue({ queueSize: messages, concurrency: 100 }, () => {
    spin(msEach)
    perTurn.set(turn, (perTurn.get(turn) ?? 0) + 1)
    if (++evaluated === messages) finished()
  }, new Registry(), longCommitNext)
  // Counts turns: an immediate queued from an immediate runs in the next one.
  const tick = () => {
    turn++
    if (evaluated < messages) setImmediate(tick)
  }
  setImmediate(tick)
  for (let i = 0; i < messages; i++) queue.offer({} as Work, true, () => {})
  await done
  const turns = [...perTurn.keys()]
  const first = Math.min(...turns)
  return Array.from({ length: Math.max(...turns) - first + 1 }, (_, i) => perTurn.get(first + i) ?? 0)
}

describe('RuleQueue', () => {
  it('evaluates every message, a bounded slice of them per turn', async () => {
    const counts = await slices(2000, 0)
    expect(counts.reduce((a, b) => a + b, 0)).toBe(2000)
    expect(Math.max(...counts)).toBeLessThanOrEqual(512)
  })

  it('ends a turn once its slice has taken about 2 ms, so other work runs in between', async () => {
    // 16 messages of 0.25 ms are 4 ms: the clock is read every 16 messages.
    const counts = await slices(200, 0.25)
    expect(counts.reduce((a, b) => a + b, 0)).toBe(200)
    expect(Math.max(...counts)).toBe(16)
  })

  it('takes slices in consecutive turns while no long commit is scheduled', async () => {
    const counts = await slices(2000, 0, () => false)
    expect(counts.reduce((a, b) => a + b, 0)).toBe(2000)
    expect(counts.every((count) => count > 0), counts.join(', ')).toBe(true)
  })

  it('leaves a whole turn between two slices while a long commit is scheduled', async () => {
    const counts = await slices(2000, 0, () => true)
    expect(counts.reduce((a, b) => a + b, 0)).toBe(2000)
    expect(counts.length).toBeGreaterThanOrEqual(7)
    counts.forEach((count, turn) => expect(count === 0 || turn % 2 === 0, `turn ${turn} of ${counts.join(', ')}`).toBe(true))
  })
})
