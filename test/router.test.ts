import { describe, expect, it } from 'vitest'
import { fixturePath } from './helpers/fixtures.js'
import { metricsText, sampleOf } from './helpers/metrics.js'
import { Inbox } from './helpers/mqtt.js'
import { useApp } from './helpers/use-app.js'
import { waitUntil } from './helpers/wait.js'

const TOKEN = 'router-admin-token-0123456789'
const fixture = (name: string) => fixturePath(`router/${name}.js`)

const f = useApp({ adminToken: TOKEN })
const api = (path: string, method = 'GET', body?: unknown) => f.api(path, { method, body })

interface RuleView {
  name: string
  stats: { matched: number; passed: number; actions: Array<{ success: number; failure: number }> }
}
/** Whether the rule has finished the actions of every message it passed. */
const settled = (stats: RuleView['stats']) => stats.actions.every((a) => a.success + a.failure === stats.passed)

describe('functions behind rules', () => {
  it('a rule invokes a local function, which publishes; invoking and invoked are events', async () => {
    await f.start(`
functions:
  greet: { module: ${fixture('greet')}, timeout: 3s }
rules:
  - name: onJoin
    sql: SELECT user FROM 'joins/+'
    actions:
      - invoke: { function: greet }
`)
    const c = await f.connect({ clientId: 'alice-dev' })
    const inbox = new Inbox(c)
    await c.subscribeAsync(['inbox/#', '$events/functions/+/+'], { qos: 1 })
    await c.publishAsync('joins/lobby', JSON.stringify({ user: 'alice' }), { qos: 1 })
    expect(JSON.parse((await inbox.on('inbox/alice', 10_000)).payload)).toEqual({ text: 'hello alice', via: 'greet', rule: 'onJoin' })
    const invoked = JSON.parse((await inbox.on('$events/functions/greet/invoked')).payload)
    const invoking = JSON.parse((await inbox.on('$events/functions/greet/invoking')).payload)
    expect(invoked).toMatchObject({ functionName: 'greet', rule: 'onJoin', clientId: 'alice-dev', eventType: 'invoked' })
    expect(invoked.requestId).toBe(invoking.requestId)
    expect(typeof invoked.durationMs).toBe('number')
  })

  it('cannot loop forever through its own events', async () => {
    await f.start(`
rulesEngine:
  maxHops: 4
functions:
  v1: { module: ${fixture('tag')} }
rules:
  - name: start
    sql: SELECT * FROM 'go'
    actions:
      - invoke: { function: v1 }
  - name: again
    sql: SELECT * FROM '$events/functions/v1/invoked'
    actions:
      - invoke: { function: v1 }
`)
    const c = await f.connect()
    const inbox = new Inbox(c)
    await c.subscribeAsync(['$events/functions/v1/invoked', '$events/rules/+/loop'], { qos: 1 })
    await c.publishAsync('go', '{}', { qos: 1 })
    await inbox.on('$events/rules/again/loop', 10_000)
    // Each invocation of v1 publishes `invoked`, which `again` answers with
    // one more invocation, until the loop guard drops one. Once `again` has
    // settled on every invoked event so far, every invocation has finished
    // and none is running, nothing more can come.
    const invoked = () => inbox.messages.filter((m) => m.topic === '$events/functions/v1/invoked').length
    const state = async () => {
      const again = ((await api('/rules')).rules as RuleView[]).find((r) => r.name === 'again')!.stats
      const metrics = await metricsText(f.app.httpUrl)
      return {
        invoked: invoked(),
        againMatched: again.matched,
        againSettled: settled(again),
        delivered: sampleOf(metrics, 'switchyard_deliveries_total{target="function:v1"}'),
        running: sampleOf(metrics, 'switchyard_deliveries_in_flight'),
      }
    }
    await waitUntil(state, {
      until: (s) => s.againMatched === s.invoked && s.againSettled && s.delivered === s.invoked && s.running === 0,
      what: 'again to settle on every invoked event, and every invocation of v1 to finish',
    })
    await inbox.flush()
    expect(invoked()).toBeLessThanOrEqual(4)
  })

  it('answers sync invokes and config http entries with the function result', async () => {
    await f.start(`
functions:
  greet: { module: ${fixture('greet')} }
http:
  - { method: POST, path: /hello, function: greet }
`)
    const sync = await api('/functions/greet/invoke', 'POST', { event: { user: 'bob' } })
    expect(sync.result).toEqual({ greeted: 'bob' })
    const res = await fetch(`${f.app.httpUrl}/hello`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ user: 'x' }) })
    expect(res.status).toBe(200)
    // The gateway's event wraps the request: the function reads event.user, absent here.
    expect(await res.json()).toEqual({ greeted: undefined })
    expect((await fetch(`${f.app.httpUrl}/api/functions/nope/invoke`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` } })).status).toBe(404)
  })
})

describe('routes', () => {
  it('split by weight, fan out, and repoint live with no event lost', async () => {
    await f.start(`
functions:
  v1: { module: ${fixture('tag')} }
  v2: { module: ${fixture('tag')} }
routes:
  handler:
    targets:
      - { function: v1, weight: 90 }
      - { function: v2, weight: 10 }
  everyone:
    fanout: true
    targets: [ { route: handler }, { topic: 'audit/users' } ]
rules:
  - name: toHandler
    sql: SELECT * FROM 'work/+'
    actions:
      - invoke: { route: everyone }
`)
    const c = await f.connect()
    const inbox = new Inbox(c)
    await c.subscribeAsync(['out/+', 'audit/users'], { qos: 1 })
    for (let i = 0; i < 20; i++) await c.publishAsync('work/a', JSON.stringify({ n: i }), { qos: 1 })
    await inbox.waitFor((m) => m.filter((x) => x.topic.startsWith('out/')).length === 20 && m.filter((x) => x.topic === 'audit/users').length === 20, 15_000)
    expect(inbox.messages.filter((m) => m.topic === 'out/v2')).toHaveLength(2)

    // Blue/green: everything to v2 now, no code change.
    const put = await api('/routes/handler', 'PUT', { targets: [{ function: 'v2' }] })
    expect(put).toMatchObject({ name: 'handler', source: 'api', targets: [{ function: 'v2', weight: 1 }] })
    for (let i = 20; i < 30; i++) await c.publishAsync('work/a', JSON.stringify({ n: i }), { qos: 1 })
    await inbox.waitFor((m) => m.filter((x) => x.topic.startsWith('out/')).length === 30, 15_000)
    const seen = inbox.messages.filter((m) => m.topic.startsWith('out/')).map((m) => JSON.parse(m.payload).n).sort((a, b) => a - b)
    expect(seen).toEqual(Array.from({ length: 30 }, (_, i) => i))
    expect(inbox.messages.filter((m) => m.topic === 'out/v2').length).toBe(12)
    expect(await api('/routes/handler', 'PUT', { targets: [{ route: 'everyone' }] })).toMatchObject({ error: expect.stringMatching(/cycle/) })
  })

  it('hold events durably across a restart and deliver them in order on release', async () => {
    const recorder = await f.recorder()
    const url = recorder.url
    const dir = f.tempDir()
    const yaml = `
routes:
  sink:
    targets: [ { url: '${url}/sink' } ]
rules:
  - name: toSink
    sql: SELECT * FROM 'held/+'
    actions:
      - invoke: { route: sink }
`
    await f.start(yaml, { dir })
    expect(await api('/routes/sink/hold', 'POST')).toMatchObject({ held: true })
    const c = await f.connect()
    for (let i = 0; i < 5; i++) await c.publishAsync('held/x', JSON.stringify({ n: i }), { qos: 1 })
    await waitUntil(async () => (await api('/routes/sink')).heldEvents, { until: (n) => n === 5, timeout: 5000, what: '5 events held on the sink route' })
    expect(recorder.calls).toEqual([])

    await f.endClients()
    await f.app.close()
    await f.start(yaml, { dir })
    expect(await api('/routes/sink')).toMatchObject({ held: true, heldEvents: 5 })
    expect(await api('/routes/sink/release', 'POST')).toMatchObject({ held: false, released: 5 })
    await waitUntil(() => recorder.calls.length, { until: (n) => n === 5, timeout: 5000, what: 'the 5 released events at the endpoint' })
    expect(recorder.calls.map((x) => x.body.event.n)).toEqual([0, 1, 2, 3, 4])
    expect(recorder.calls[0]!.body.context).toMatchObject({ topic: 'held/x', rule: 'toSink' })
  })
})

describe('durable delivery', () => {
  it('acknowledges a QoS 1 publish only once its deliveries are recorded', async () => {
    const t = await f.start(`
functions:
  greet: { module: ${fixture('greet')} }
rules:
  - name: onJoin
    sql: SELECT user FROM 'joins/+'
    actions:
      - invoke: { function: greet }
`)
    // An outbox that takes its time: the PUBACK must wait for it.
    const recorded: unknown[] = []
    const outbox = t.app.storage.outbox
    const record = outbox.record.bind(outbox)
    outbox.record = async (deliveries) => {
      await new Promise((r) => setTimeout(r, 300))
      recorded.push(...deliveries)
      return record(deliveries)
    }
    const c = await f.connect()
    await c.publishAsync('joins/x', JSON.stringify({ user: 'x' }), { qos: 1 })
    expect(recorded).toHaveLength(1)
    // QoS 0 has no acknowledgement to hold back.
    await c.publishAsync('joins/y', JSON.stringify({ user: 'y' }), { qos: 0 })
    expect(recorded).toHaveLength(1)
  })

  it('retries a failing target, dead-letters it, and replays it once fixed, losing nothing', async () => {
    const recorder = await f.recorder()
    const url = recorder.url
    let broken = true
    recorder.status = () => (broken ? 503 : 200)
    await f.start(`
functions:
  audit: { url: '${url}/audit', timeout: 2s, retry: { attempts: 3, initialDelay: 20ms, maxDelay: 50ms } }
rules:
  - name: auditAll
    sql: SELECT * FROM 'audit/in'
    actions:
      - invoke: { function: audit }
    errorAction:
      republish: { topic: 'errors/rules' }
`)
    const c = await f.connect()
    const inbox = new Inbox(c)
    await c.subscribeAsync(['$events/deadletter/#', 'errors/rules'], { qos: 1 })
    await c.publishAsync('audit/in', JSON.stringify({ id: 1 }), { qos: 1 })
    await c.publishAsync('audit/in', JSON.stringify({ id: 2 }), { qos: 1 })
    await inbox.waitFor((m) => m.filter((x) => x.topic === '$events/deadletter/audit').length === 2, 10_000)
    const letter = JSON.parse(inbox.messages.find((m) => m.topic === '$events/deadletter/audit')!.payload)
    expect(letter).toMatchObject({ target: 'function:audit', attempts: 3, error: expect.stringMatching(/503/) })
    const errorDoc = JSON.parse((await inbox.on('errors/rules')).payload)
    expect(errorDoc).toMatchObject({ ruleName: 'auditAll', failures: [{ failedAction: 'function' }] })

    const dead = await api('/deadletters?target=function:audit')
    expect(dead.deadLetters.map((d: any) => d.event.id).sort()).toEqual([1, 2])
    broken = false
    expect(await api('/deadletters/replay', 'POST', { target: 'function:audit' })).toMatchObject({ replayed: 2 })
    await waitUntil(() => recorder.calls.length, { until: (n) => n === 2, timeout: 5000, what: 'the 2 replayed events at the endpoint' })
    expect(recorder.calls.map((x) => x.body.event.id).sort()).toEqual([1, 2])
    expect((await api('/deadletters')).deadLetters).toEqual([])
  })

  it('does not retry a 4xx other than 408 and 429', async () => {
    const recorder = await f.recorder()
    const url = recorder.url
    recorder.status = () => 400
    await f.start(`
functions:
  strict: { url: '${url}/strict', retry: { attempts: 5, initialDelay: 10ms } }
rules:
  - name: r
    sql: SELECT * FROM 'strict'
    actions:
      - invoke: { function: strict }
`)
    const c = await f.connect()
    await c.publishAsync('strict', '{}', { qos: 1 })
    await waitUntil(async () => (await api('/deadletters')).deadLetters.length, { until: (n) => n === 1, timeout: 5000, what: 'one dead letter' })
    expect((await api('/deadletters')).deadLetters[0].attempts).toBe(1)
  })

  it('republishes stored events of a table over a time range', async () => {
    await f.start(`
rules:
  - name: keep
    sql: SELECT * FROM 'log/+'
    actions:
      - store: { table: logs, key: '\${topic(2)}' }
`)
    const c = await f.connect()
    const inbox = new Inbox(c)
    const from = Date.now()
    for (let i = 0; i < 3; i++) await c.publishAsync('log/a', JSON.stringify({ i }), { qos: 1 })
    await waitUntil(async () => (await api('/store/logs')).events.length, { until: (n) => n === 3, what: '3 events stored in logs' })
    await c.subscribeAsync('replayed/#', { qos: 1 })
    expect(await api('/replay', 'POST', { table: 'logs', from, topic: 'replayed/logs' })).toEqual({ replayed: 3 })
    await inbox.count(3)
    expect(inbox.messages.map((m) => JSON.parse(m.payload).i)).toEqual([0, 1, 2])
  })
})

describe('config', () => {
  it('refuses a route to a missing function and an invoke of a missing route, naming the place', async () => {
    const { parseConfig } = await import('../src/config/load.js')
    expect(() => parseConfig(`functions: {}\nroutes:\n  r:\n    targets: [ { function: ghost } ]\n`, 'x.yaml')).toThrow(/^x\.yaml:4:\d+: routes\.r\.targets\[0\]\.function names function ghost/)
    expect(() => parseConfig(`rules:\n  - name: a\n    sql: SELECT * FROM 'x'\n    actions:\n      - invoke: { route: nowhere }\n`, 'x.yaml')).toThrow(/rules\[0\]\.actions\[0\]\.invoke\.route names route nowhere/)
    expect(() => parseConfig(`routes:\n  a:\n    targets: [ { route: b } ]\n  b:\n    targets: [ { route: a } ]\n`, 'x.yaml')).toThrow(/forms a cycle: a → b → a/)
  })
})
