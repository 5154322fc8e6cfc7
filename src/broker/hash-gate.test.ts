import { describe, expect, it } from 'vitest'
import { BUSY, HashGate } from './hash-gate.js'

/** A task that finishes when told, and says when it started. */
function task(log: string[], name: string) {
  let finish!: () => void
  const done = new Promise<void>((resolve) => (finish = resolve))
  return {
    finish: () => finish(),
    run: async () => {
      log.push(name)
      await done
      return name
    },
  }
}
const turn = () => new Promise((resolve) => setImmediate(resolve))

describe('HashGate', () => {
  it('runs at most `concurrency` tasks, queues `queueSize` and answers BUSY past that', async () => {
    const gate = new HashGate(2, 1)
    const log: string[] = []
    const tasks = ['a', 'b', 'c', 'd'].map((n) => task(log, n))
    const results = tasks.map((t) => gate.run('x', t.run))
    await turn()
    expect(log).toEqual(['a', 'b'])
    expect(await results[3]).toBe(BUSY)
    tasks[0]!.finish()
    await turn()
    expect(log).toEqual(['a', 'b', 'c'])
    for (const t of tasks) t.finish()
    expect(await Promise.all(results.slice(0, 3))).toEqual(['a', 'b', 'c'])
    // All places are free again.
    const e = task(log, 'e')
    const f = task(log, 'f')
    const both = [gate.run('x', e.run), gate.run('x', f.run)]
    await turn()
    expect(log.slice(-2)).toEqual(['e', 'f'])
    e.finish()
    f.finish()
    await Promise.all(both)
  })

  it('takes turns between sources: one waiting behind a flood is next', async () => {
    const gate = new HashGate(1, 100)
    const log: string[] = []
    const flood = Array.from({ length: 10 }, (_, i) => task(log, `flood-${i}`))
    const running = flood.map((t) => gate.run('203.0.113.9', t.run))
    const alice = task(log, 'alice')
    const hers = gate.run('192.0.2.1', alice.run)
    await turn()
    flood[0]!.finish()
    await turn()
    expect(log).toEqual(['flood-0', 'flood-1'])
    flood[1]!.finish()
    await turn()
    expect(log).toEqual(['flood-0', 'flood-1', 'alice'])
    alice.finish()
    for (const t of flood) t.finish()
    await Promise.all([hers, ...running])
  })

  it('frees the place of a task that fails', async () => {
    const gate = new HashGate(1, 0)
    await expect(gate.run('x', () => Promise.reject(new Error('scrypt failed')))).rejects.toThrow('scrypt failed')
    expect(await gate.run('x', async () => 'ok')).toBe('ok')
  })
})
