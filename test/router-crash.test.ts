import { expect, it } from 'vitest'
import { fixturePath } from './helpers/fixtures.js'
import { Inbox } from './helpers/mqtt.js'
import { useApp } from './helpers/use-app.js'
import { waitUntil } from './helpers/wait.js'

const f = useApp()

it('loses no delivery recorded for a PUBACKed QoS 1 message when the broker is killed with SIGKILL', async () => {
  const recorder = await f.recorder()
  const url = recorder.url
  // A slow endpoint, so that deliveries are still owed when the broker dies.
  recorder.delayMs = 5
  const config = f.writeConfig(`listen:\n  mqtt: 0\n  http: 0\nstorage:\n  sqlite: ./data/switchyard.db\ndelivery:\n  concurrency: 2\nfunctions:\n  sink: { url: '${url}/sink', retry: { attempts: 20, initialDelay: 20ms, maxDelay: 200ms } }\nrules:\n  - name: stream\n    sql: SELECT * FROM 'stream/+'\n    actions:\n      - invoke: { function: sink }\n`)

  const first = await f.startChild(config)
  const pub = await f.connect(first.mqttUrl, { clientId: 'streamer' })
  const acked: number[] = []
  let stop = false
  void (async () => {
    for (let i = 0; i < 10_000 && !stop; i++) {
      await pub.publishAsync('stream/a', JSON.stringify({ i }), { qos: 1 })
      acked.push(i)
    }
  })().catch(() => {})
  await waitUntil(() => acked.length > 300, { timeout: 10_000, what: 'over 300 PUBACKs' })
  await first.kill('SIGKILL')
  // A publish in flight when the broker died was never acknowledged: it is not owed.
  stop = true
  await f.endClients()
  const delivered = () => new Set(recorder.calls.map((c) => c.body.event.i as number))
  const before = delivered().size
  expect(before).toBeLessThan(acked.length) // some deliveries were still owed

  await f.startChild(config)
  await waitUntil(() => acked.filter((i) => !delivered().has(i)).slice(0, 10), { until: (missing) => missing.length === 0, timeout: 30_000, interval: 100, what: 'every PUBACKed message delivered to the sink' })
}, 60_000)

it('keeps serving everyone while a function hangs or crashes its worker', async () => {
  const fixtures = fixturePath('functions/')
  const config = f.writeConfig([
    'listen: { mqtt: 0, http: 0 }',
    'storage: { sqlite: ":memory:" }',
    'functions:',
    `  spin: { module: ${fixtures}spin.js, timeout: 1s, retry: { attempts: 2, initialDelay: 10ms } }`,
    `  exits: { module: ${fixtures}exits.js, retry: { attempts: 2, initialDelay: 10ms } }`,
    'rules:',
    "  - { name: hang, sql: \"SELECT * FROM 'bad/+'\", actions: [ { invoke: { function: spin } } ] }",
    "  - { name: crash, sql: \"SELECT * FROM 'crash/+'\", actions: [ { invoke: { function: exits } } ] }",
    '',
  ].join('\n'))
  const child = await f.startChild(config)
  const c = await f.connect(child.mqttUrl)
  const inbox = new Inbox(c)
  await c.subscribeAsync(['ping/#', '$events/deadletter/+'], { qos: 1 })
  await c.publishAsync('bad/1', '{}', { qos: 1 })
  await c.publishAsync('crash/1', '{}', { qos: 1 })
  // While the function spins in its worker (two tries of a second each),
  // the broker goes on serving: every round trip completes before the spin
  // is given up. (How much latency the pool adds is measured in bench/.)
  for (let i = 0; i < 30; i++) {
    await c.publishAsync(`ping/${i}`, 'x', { qos: 1 })
    await inbox.on(`ping/${i}`)
  }
  expect(inbox.messages.some((m) => m.topic === '$events/deadletter/spin')).toBe(false)
  const letters = await inbox.waitFor((m) => m.filter((x) => x.topic.startsWith('$events/deadletter/')).length >= 2, 10_000)
  const errors = letters.filter((x) => x.topic.startsWith('$events/deadletter/')).map((x) => JSON.parse(x.payload).error as string).sort()
  expect(errors[0]).toMatch(/function exits exited its worker \(code 3\)/)
  expect(errors[1]).toMatch(/function spin timed out after 1000 ms/)
})
