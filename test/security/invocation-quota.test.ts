import { describe, expect, it } from 'vitest'
import { fixturePath } from '../helpers/fixtures.js'
import { sampleOf } from '../helpers/metrics.js'
import { Inbox } from '../helpers/mqtt.js'
import { useApp } from '../helpers/use-app.js'

// One client's publishes may not take every function invocation: within its
// publish rate, a flood of them used to hold everyone else's back.

const f = useApp()
const pause = (ms: number) => new Promise((r) => setTimeout(r, ms))

const config = (perClient: string) => `
functions:
  announce: { module: ${fixturePath('functions/announce.js')}, timeout: 5s }
rules:
  - name: work
    sql: SELECT * FROM 'work/in'
    actions:
      - invoke: { function: announce${perClient} }
    errorAction:
      republish: { topic: 'errors/work' }
`

describe('invocations per client', () => {
  it('keep a flooding client to its quota, so that another client\'s invocation runs at once', async () => {
    await f.start(config(', perClient: 5'))
    const watcher = await f.connect({ clientId: 'watcher' })
    const done = new Inbox(watcher)
    await watcher.subscribeAsync(['done/+', 'errors/work'], { qos: 1 })
    const flooder = await f.connect({ clientId: 'flooder' })
    const victim = await f.connect({ clientId: 'victim' })
    // 300 invocations of 20 ms each: six seconds of the pool's time, were they all made.
    const started = performance.now()
    await Promise.all(Array.from({ length: 300 }, (_, n) => flooder.publishAsync('work/in', JSON.stringify({ n, ms: 20 }), { qos: 1 })))
    const sent = performance.now()
    await victim.publishAsync('work/in', JSON.stringify({ n: 0, ms: 20 }), { qos: 1 })
    await done.on('done/victim')
    const waited = performance.now() - sent
    await pause(500)
    const flooded = done.messages.filter((m) => m.topic === 'done/flooder').length
    // The bucket holds one second's worth (5) and refills 5 a second while the flood lasts.
    expect(flooded).toBeGreaterThanOrEqual(5)
    expect(flooded).toBeLessThanOrEqual(5 + Math.ceil((5 * (sent - started)) / 1000))
    expect(flooded).toBeLessThan(50)
    expect(waited).toBeLessThan(2000)
    const refused = done.messages.filter((m) => m.topic === 'errors/work').map((m) => JSON.parse(m.payload) as { failures: Array<{ errorMessage: string }> })
    expect(refused.length).toBe(300 - flooded)
    expect(JSON.stringify(refused[0])).toContain('invocation quota exceeded')
    expect(sampleOf(await (await fetch(`${f.app.httpUrl}/metrics`)).text(), 'switchyard_limit_exceeded_total{limit="invocations_per_client"}')).toBe(300 - flooded)
  })

  it('apply limits.invocationsPerClient to invoke actions without a quota of their own', async () => {
    await f.start(`${config('')}limits:\n  invocationsPerClient: 3\n`)
    const watcher = await f.connect({ clientId: 'watcher' })
    const done = new Inbox(watcher)
    await watcher.subscribeAsync('done/+', { qos: 1 })
    const flooder = await f.connect({ clientId: 'flooder' })
    const started = performance.now()
    await Promise.all(Array.from({ length: 50 }, (_, n) => flooder.publishAsync('work/in', JSON.stringify({ n }), { qos: 1 })))
    const elapsed = performance.now() - started
    await done.on('done/flooder')
    await pause(500)
    const flooded = done.messages.filter((m) => m.topic === 'done/flooder').length
    expect(flooded).toBeGreaterThanOrEqual(3)
    expect(flooded).toBeLessThanOrEqual(3 + Math.ceil((3 * elapsed) / 1000))
    expect(flooded).toBeLessThan(25)
  })
})
