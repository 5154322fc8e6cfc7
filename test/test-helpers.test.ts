import { describe, expect, it } from 'vitest'
import { AppFixture } from './helpers/use-app.js'
import { waitUntil, within } from './helpers/wait.js'

// The helpers the other tests lean on: if these were wrong, a test could
// pass for the wrong reason or leave a broker running.

describe('the app fixture', () => {
  it('undoes what a test made last first, once each, and runs every cleanup even when one fails', async () => {
    const fixture = new AppFixture({})
    const done: string[] = []
    fixture.defer(() => done.push('folder'))
    fixture.defer(() => {
      done.push('app')
      throw new Error('the app did not close')
    })
    const closeClient = fixture.defer(async () => {
      done.push('client')
    })
    await closeClient()
    await expect(fixture.cleanUp()).rejects.toThrow('the app did not close')
    expect(done).toEqual(['client', 'app', 'folder'])
    // The next test starts with nothing to undo.
    await fixture.cleanUp()
    expect(done).toHaveLength(3)
    expect(() => fixture.app).toThrow(/no app started/)
  })

  it('fails a cleanup that does not end in time by its source, and runs the rest', async () => {
    const fixture = new AppFixture({ cleanupMs: 50 })
    const done: string[] = []
    fixture.defer(() => done.push('folder'))
    fixture.defer(() => new Promise(() => {}))
    await expect(fixture.cleanUp()).rejects.toThrow('timed out after 50 ms waiting for the cleanup () => new Promise(() => {})')
    expect(done).toEqual(['folder'])
  })
})

describe('waitUntil', () => {
  it('resolves with the first value that is the one awaited', async () => {
    let n = 0
    expect(await waitUntil(() => ++n, { until: (x) => x === 3, interval: 1, what: 'three' })).toBe(3)
  })

  it('fails after its timeout, saying what it waited for and what it last read', async () => {
    await expect(waitUntil(() => 7, { until: (x) => x === 8, timeout: 50, what: 'eight' })).rejects.toThrow('timed out after 50 ms waiting for eight; the last read gave 7')
    await expect(waitUntil(() => { throw new Error('not yet') }, { timeout: 50, what: 'a read that works' })).rejects.toThrow(/a read that works; the last read threw not yet/)
  })

  it('within rejects a promise that does not settle in time', async () => {
    await expect(within(new Promise(() => {}), 20, 'nothing')).rejects.toThrow('timed out after 20 ms waiting for nothing')
    expect(await within(Promise.resolve('ok'), 20, 'ok')).toBe('ok')
  })
})
