import { describe, expect, it } from 'vitest'
import { end, Inbox } from './helpers/mqtt.js'
import { useApp } from './helpers/use-app.js'
import { waitUntil } from './helpers/wait.js'

// `http: { durable: true }`: the request goes through the outbox, so it
// survives a crash, is retried with backoff, and reaches the rule's
// errorAction only once it is dead-lettered.

const f = useApp()

describe('a durable http action', () => {
  it('sends the request as the rule rendered it, retries failures, and dead-letters into the errorAction', async () => {
    const recorder = await f.recorder()
    const base = recorder.url
    let failuresLeft = 2
    const tries: string[] = []
    recorder.status = (req) => {
      tries.push(`${req.method} ${req.url} ${req.headers['x-device']}`)
      return req.url === '/flaky' && failuresLeft-- > 0 ? 503 : req.url === '/gone' ? 410 : 200
    }
    const t = await f.start(`
admin: { token: an-admin-token-for-tests }
rules:
  - name: hook
    sql: SELECT temp, topic(2) AS device FROM 'sensors/+'
    actions:
      - http: { url: '${base}/\${topic(2)}', method: PUT, headers: { x-device: '\${topic(2)}' }, durable: true, retry: { attempts: 3, initialDelay: 20ms, maxDelay: 50ms } }
    errorAction:
      republish: { topic: 'errors/rules' }
`)
    const c = await f.connect()
    const inbox = new Inbox(c)
    await c.subscribeAsync(['errors/rules', '$events/deadletter/#'], { qos: 1 })
    await c.publishAsync('sensors/flaky', '{"temp":21}', { qos: 1 })
    await c.publishAsync('sensors/gone', '{"temp":22}', { qos: 1 })

    // Two 503s, then a 200: delivered on the third try.
    await waitUntil(() => recorder.calls.filter((x) => x.path === '/flaky'), { until: (calls) => calls.length === 1, timeout: 5000, what: 'the flaky request to succeed once' })
    expect(tries.filter((x) => x.includes('/flaky'))).toEqual(Array(3).fill('PUT /flaky flaky'))
    expect(recorder.calls[0]!.body).toEqual({ temp: 21, device: 'flaky' })
    // A 410 is not worth retrying: straight to the dead letters and the errorAction.
    const error = JSON.parse((await inbox.on('errors/rules')).payload)
    expect(error).toMatchObject({ ruleName: 'hook', topic: 'sensors/gone', failures: [{ failedAction: 'http', failedResource: `${base}/gone` }] })
    expect(error.failures[0].errorMessage).toMatch(/answered 410/)
    const letters = await (await fetch(`${t.httpUrl}/api/deadletters`, { headers: { authorization: 'Bearer an-admin-token-for-tests' } })).json() as { deadLetters: Array<{ target: string; attempts: number }> }
    expect(letters.deadLetters).toMatchObject([{ target: `url:${base}/gone`, attempts: 1 }])
    await inbox.waitFor((m) => m.some((x) => x.topic.startsWith('$events/deadletter/')))
  })

  it('still sends a request acknowledged before a SIGKILL, after the restart', async () => {
    const recorder = await f.recorder()
    const base = recorder.url
    // The endpoint is down while the broker runs the first time.
    recorder.status = () => 503
    const config = f.writeConfig(`listen:\n  mqtt: 0\n  http: 0\nstorage:\n  sqlite: ./data/switchyard.db\nrules:\n  - name: hook\n    sql: SELECT * FROM 'orders/+'\n    actions:\n      - http: { url: '${base}/orders', durable: true, retry: { attempts: 100, initialDelay: 20ms, maxDelay: 100ms } }\n`)
    const first = await f.startChild(config)
    const c = await f.connect(first.mqttUrl)
    for (let i = 0; i < 20; i++) await c.publishAsync(`orders/${i}`, JSON.stringify({ order: i }), { qos: 1 })
    await end(c, true)
    await first.kill('SIGKILL')
    expect(recorder.calls).toEqual([])

    recorder.status = () => 200
    await f.startChild(config)
    await waitUntil(() => new Set(recorder.calls.map((x) => x.body.order)).size, { until: (n) => n === 20, timeout: 10_000, what: 'all 20 orders at the endpoint' })
  })
})

it('refuses retry without durable: true', async () => {
  await expect(f.start("rules:\n  - name: r\n    sql: SELECT * FROM 'a'\n    actions:\n      - http: { url: 'http://127.0.0.1:9/x', retry: { attempts: 2 } }\n"))
    .rejects.toThrow(/rules\[0\]\.actions\[0\]\.http\.retry applies only to a durable request: add durable: true/)
})
