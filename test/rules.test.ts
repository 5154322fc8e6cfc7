import Database from 'better-sqlite3'
import { createServer } from 'node:http'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { Inbox } from './helpers/mqtt.js'
import { closedPort } from './helpers/net.js'
import { useApp } from './helpers/use-app.js'
import { waitUntil } from './helpers/wait.js'

const TOKEN = 'test-admin-token-0123456789'

const f = useApp({ adminToken: TOKEN })

interface RuleView {
  name: string
  stats: { matched: number; passed: number; actions: Array<{ success: number; failure: number }> }
}
/** The rules and their stats, as GET /api/rules shows them. */
const rulesNow = async () => ((await f.api('/rules')) as { rules: RuleView[] }).rules
/** Whether a rule has finished the actions of every message it passed. */
const settled = (rule: RuleView) => rule.stats.actions.every((a) => a.success + a.failure === rule.stats.passed)

// The two rules of the AWS IoT web chat, exactly as written there.
const AWS_CHAT_RULES = `
rules:
  - name: chatPub
    sql: >-
      SELECT *, clientId() AS clientId, timestamp() AS timestamp FROM 'chat/out'
      WHERE NOT isUndefined(message) AND NOT isUndefined(room)
    actions:
      - republish: { topic: 'chat/pub/\${room}', qos: 1 }
    errorAction:
      republish: { topic: 'errors/rules' }
  - name: chatStore
    sql: SELECT *, concat(timestamp, clientId) AS timestamp_clientId, round(timestamp / 1000) + 86400 AS ttl FROM 'chat/pub/#'
    actions:
      - store: { table: chat, key: '\${topic(3)}', ttl: 24h }
    enabled: true
`

describe('the AWS IoT chat rules', () => {
  it('republish chat/out to the room and store the room history', async () => {
    await f.start(AWS_CHAT_RULES)
    const alice = await f.connect(f.app.wsUrl, { clientId: 'alice-1' })
    const inbox = new Inbox(alice)
    await alice.subscribeAsync('chat/pub/lobby', { qos: 1 })

    const before = Date.now()
    await alice.publishAsync('chat/out', JSON.stringify({ room: 'lobby', message: 'hello', name: 'Alice' }), { qos: 1 })
    await alice.publishAsync('chat/out', JSON.stringify({ room: 'lobby' }), { qos: 1 }) // no message: WHERE is false
    await alice.publishAsync('chat/out', JSON.stringify({ room: 'lobby', message: 'second', name: 'Alice' }), { qos: 1 })

    const got = await inbox.count(2)
    const first = JSON.parse(got[0]!.payload) as Record<string, unknown>
    expect(first).toMatchObject({ room: 'lobby', message: 'hello', name: 'Alice', clientId: 'alice-1' })
    expect(first.timestamp as number).toBeGreaterThanOrEqual(before)
    expect(got[0]!.packet.qos).toBe(1)
    expect(JSON.parse(got[1]!.payload).message).toBe('second')

    const stored = await waitUntil(
      (): Promise<{ events: Array<{ key: string; data: Record<string, unknown>; expiresAt: number }> }> => f.api('/store/chat?key=lobby'),
      { until: (s) => s.events.length >= 2, what: 'both messages stored for the lobby' },
    )
    expect(stored.events.map((e) => e.data.message)).toEqual(['second', 'hello']) // newest first
    const data = stored.events[1]!.data
    expect(data.timestamp_clientId).toBe(`${first.timestamp as number}alice-1`)
    // Int / Int is an integer division in AWS IoT SQL.
    expect(data.ttl).toBe(Math.trunc((first.timestamp as number) / 1000) + 86400)
    expect(stored.events[1]!.expiresAt - (first.timestamp as number)).toBeGreaterThanOrEqual(24 * 3600 * 1000 - 1000)
    expect((await f.api('/store/chat?key=lobby&limit=1')).events).toHaveLength(1)
    expect((await f.api('/store/chat?key=other')).events).toEqual([])

    const rules = (await f.api('/rules')) as { rules: Array<{ name: string; stats: { matched: number; passed: number; actions: Array<{ success: number }> } }> }
    const chatPub = rules.rules.find((r) => r.name === 'chatPub')!
    expect(chatPub.stats).toMatchObject({ matched: 3, passed: 2 })
    expect(chatPub.stats.actions[0]!.success).toBe(2)
    const metrics = await (await fetch(`${f.app.httpUrl}/metrics`)).text()
    expect(metrics).toContain('switchyard_rule_matched_total{rule="chatPub"} 3')
    expect(metrics).toContain('switchyard_rule_passed_total{rule="chatPub"} 2')
  })
})

describe('templates and payloads', () => {
  // As on AWS, a template is evaluated against the message, not the SELECT
  // output: payload fields and functions, not AS aliases.
  it('fill topic and payload templates with fields, topic(n) and clientid()', async () => {
    await f.start(`
rules:
  - name: relay
    sql: SELECT temp, topic(2) AS device FROM 'sensors/+/temp' WHERE temp > 30
    actions:
      - republish: { topic: 'alerts/\${topic(2)}/\${clientid()}', payload: 'hot: \${temp} on \${topic(2)}', qos: 1 }
`)
    const c = await f.connect({ clientId: 'gw-9' })
    const inbox = new Inbox(c)
    await c.subscribeAsync('alerts/#', { qos: 1 })
    await c.publishAsync('sensors/boiler/temp', JSON.stringify({ temp: 20 }), { qos: 1 })
    await c.publishAsync('sensors/boiler/temp', JSON.stringify({ temp: 35 }), { qos: 1 })
    const m = await inbox.on('alerts/boiler/gw-9')
    expect(m.payload).toBe('hot: 35 on boiler')
    expect(inbox.messages).toHaveLength(1)
  })

  it('treat a payload that is not JSON as * in base64, as AWS does', async () => {
    await f.start(`
rules:
  - name: raw
    sql: SELECT encode(*, 'base64') AS data, topic() AS t FROM 'raw/#'
    actions:
      - republish: { topic: 'decoded' }
`)
    const c = await f.connect()
    const inbox = new Inbox(c)
    await c.subscribeAsync('decoded')
    await c.publishAsync('raw/1', Buffer.from([0xde, 0xad, 0xbe, 0xef]), { qos: 1 })
    expect(JSON.parse((await inbox.on('decoded')).payload)).toEqual({ data: Buffer.from([0xde, 0xad, 0xbe, 0xef]).toString('base64'), t: 'raw/1' })
  })

  it('republish the payload of SELECT * byte for byte, JSON or not', async () => {
    await f.start(`
rules:
  - name: copy
    sql: SELECT * FROM 'in/#'
    actions:
      - republish: { topic: 'copy/\${topic(2)}' }
      - republish: { topic: 'sized/\${size}' }
`)
    const c = await f.connect()
    const got = new Map<string, Buffer>()
    c.on('message', (topic, payload) => got.set(topic, payload))
    await c.subscribeAsync('copy/#')
    await c.subscribeAsync('sized/#')
    const binary = Buffer.from([0xde, 0xad, 0x00, 0xef])
    // Spacing, key order and a number past 2^53 survive, as they would not through JSON.parse and JSON.stringify.
    const json = Buffer.from('{ "size": 3,  "id": 12345678901234567890 }')
    await c.publishAsync('in/bin', binary, { qos: 1 })
    await c.publishAsync('in/json', json, { qos: 1 })
    await waitUntil(() => [...got.keys()].filter((k) => k.startsWith('copy/') || k === 'sized/3').length === 3, { what: 'copy/bin, copy/json and sized/3' })
    expect(got.get('copy/bin')).toEqual(binary)
    expect(got.get('copy/json')).toEqual(json)
    // A template that reads the output still sees the parsed document.
    expect(got.get('sized/3')).toEqual(json)
  })

  it('store the text of a JSON payload as published under SELECT *, and any other output written out as JSON', async () => {
    const dir = f.tempDir()
    await f.start(`
rules:
  - name: whole
    sql: SELECT * FROM 'in/#'
    actions:
      - store: { table: whole }
  - name: picked
    sql: SELECT size, id FROM 'in/#'
    actions:
      - store: { table: picked }
`, { dir })
    const c = await f.connect()
    const text = '{ "size": 3,  "id": 12345678901234567890 }'
    // Brackets inside a string do not nest; 600 levels of arrays are written out again (past 512, see store.ts).
    const bracketsInString = `{ "s": "${'[{'.repeat(600)}\\"[" }`
    const deep = `${'[ '.repeat(600)}${' ]'.repeat(600)}`
    await c.publishAsync('in/deep', deep, { qos: 1 })
    await c.publishAsync('in/brackets', bracketsInString, { qos: 1 })
    await c.publishAsync('in/json', text, { qos: 1 })
    const read = async (table: string) => ((await f.api(`/store/${table}`)) as { events: Array<{ topic: string; data: unknown }> }).events
    const whole = (await waitUntil(() => read('whole'), { until: (e) => e.length === 3, what: 'the stored payloads' })).find((e) => e.topic === 'in/json')
    const picked = (await waitUntil(() => read('picked'), { until: (e) => e.length === 3, what: 'the stored columns' })).find((e) => e.topic === 'in/json')
    // Read back, both are the document the rules saw.
    expect(whole!.data).toEqual({ size: 3, id: 12345678901234567890 })
    expect(picked!.data).toEqual({ size: 3, id: 12345678901234567890 })
    const db = new Database(join(dir, 'switchyard.db'), { readonly: true })
    try {
      const data = db.prepare("SELECT tbl, data FROM store_events WHERE topic = 'in/json' ORDER BY tbl").all()
      expect(data).toEqual([
        { tbl: 'picked', data: '{"size":3,"id":12345678901234567000}' },
        { tbl: 'whole', data: text },
      ])
      const kept = db.prepare("SELECT topic, data FROM store_events WHERE tbl = 'whole' AND topic != 'in/json' ORDER BY topic").all()
      expect(kept).toEqual([
        { topic: 'in/brackets', data: bracketsInString },
        { topic: 'in/deep', data: `${'['.repeat(600)}${']'.repeat(600)}` },
      ])
    } finally {
      db.close()
    }
  })

  it('let rules read lifecycle events from $events topics', async () => {
    await f.start(`
rules:
  - name: presence
    sql: SELECT clientId, eventType FROM '$events/presence/+/+'
    actions:
      - republish: { topic: 'presence/\${clientId}' }
`)
    const watcher = await f.connect()
    const inbox = new Inbox(watcher)
    await watcher.subscribeAsync('presence/#')
    await f.connect({ clientId: 'newcomer' })
    expect(JSON.parse((await inbox.on('presence/newcomer')).payload)).toEqual({ clientId: 'newcomer', eventType: 'connected' })
  })
})

describe('the loop guard', () => {
  it('drops a rule that republishes into its own FROM after maxHops and says so', async () => {
    await f.start(`
rulesEngine:
  maxHops: 5
rules:
  - name: echo
    sql: SELECT * FROM 'loop/#'
    actions:
      - republish: { topic: 'loop/again' }
`)
    const c = await f.connect()
    const inbox = new Inbox(c)
    await c.subscribeAsync(['loop/#', '$events/rules/+/loop'])
    await c.publishAsync('loop/start', '{"n":1}', { qos: 1 })
    const event = JSON.parse((await inbox.on('$events/rules/echo/loop')).payload) as Record<string, unknown>
    expect(event).toMatchObject({ rule: 'echo', topic: 'loop/again', hops: 6, maxHops: 5 })
    // The broker still serves everyone.
    await c.publishAsync('other', 'x', { qos: 1 })
    // The loop guard dropped the sixth republish: once echo has settled every
    // republish it ran, nothing more is coming, and what it published before
    // has reached c when c's own message comes back.
    await waitUntil(rulesNow, { until: (rules) => rules.every(settled), what: 'echo to settle every republish it ran' })
    await inbox.flush()
    expect(inbox.messages.filter((m) => m.topic === 'loop/again')).toHaveLength(5)
    const rules = await f.api('/rules')
    expect(rules.rules[0].stats.loops).toBe(1)
  })

  it('stops a rule on the loop event from looping through it', async () => {
    await f.start(`
rulesEngine:
  maxHops: 3
rules:
  - name: ping
    sql: SELECT * FROM 'ping'
    actions:
      - republish: { topic: 'ping' }
  - name: onLoop
    sql: SELECT * FROM '$events/rules/+/loop'
    actions:
      - republish: { topic: 'ping' }
`)
    const c = await f.connect()
    const inbox = new Inbox(c)
    await c.subscribeAsync(['ping', '$events/rules/+/loop'])
    await c.publishAsync('ping', '{}', { qos: 1 })
    await inbox.on('$events/rules/ping/loop')
    // onLoop takes the event and republishes to ping, past maxHops. Once it
    // has, and every rule has settled the actions of every message it took,
    // nothing more is coming.
    await waitUntil(rulesNow, {
      until: (rules) => rules.find((r) => r.name === 'onLoop')!.stats.matched > 0 && rules.every(settled),
      what: 'onLoop to take the loop event, and every rule to settle its actions',
    })
    await inbox.flush()
    expect(inbox.messages.filter((m) => m.topic.startsWith('$events/rules/'))).toHaveLength(1)
    expect(inbox.messages.length).toBeLessThan(10)
  })
})

describe('a republish without an errorAction', () => {
  it('counts each success and failure, and a failed one frees its slot as a delivered one does', async () => {
    await f.start(`
rulesEngine:
  concurrency: 1
rules:
  - name: relay
    sql: SELECT * FROM 'in/#'
    actions:
      - republish: { topic: 'out/\${target}' }
`)
    const c = await f.connect()
    const inbox = new Inbox(c)
    await c.subscribeAsync('out/#')
    for (const target of ['a', '#', '+', 'b']) await c.publishAsync('in/x', JSON.stringify({ target }), { qos: 1 })
    await inbox.on('out/b')
    await waitUntil(rulesNow, { until: (rules) => rules.every(settled), what: 'relay to settle every republish it ran' })
    await inbox.flush()
    expect(inbox.messages.map((m) => m.topic)).toEqual(['out/a', 'out/b'])
    const [relay] = await rulesNow()
    expect(relay!.stats.passed).toBe(4)
    expect(relay!.stats.actions[0]).toMatchObject({ success: 2, failure: 2 })
    expect(await f.metric('switchyard_rule_action_failure_total{rule="relay",action="0",kind="republish"}')).toBe(2)
  })
})

describe('http actions', () => {
  it('count only a 2xx as success; anything else reaches the errorAction with the AWS error document', async () => {
    const calls: Array<{ path: string; body: string; auth: string | undefined }> = []
    const server = createServer((req, res) => {
      let body = ''
      req.on('data', (d: Buffer) => (body += d.toString()))
      req.on('end', () => {
        calls.push({ path: req.url!, body, auth: req.headers['x-device'] as string | undefined })
        res.statusCode = req.url === '/ok' ? 200 : req.url === '/missing' ? 404 : 500
        res.end('nope')
      })
    })
    const base = `http://127.0.0.1:${await f.listen(server)}`
    await f.start(`
rules:
  - name: webhook
    sql: SELECT * FROM 'hook/+'
    actions:
      - http: { url: '${base}/\${topic(2)}', headers: { x-device: '\${clientid()}' }, timeout: 2s }
    errorAction:
      republish: { topic: 'errors/rules' }
`)
    const c = await f.connect({ clientId: 'dev-7' })
    const inbox = new Inbox(c)
    await c.subscribeAsync('errors/rules', { qos: 1 })
    await c.publishAsync('hook/ok', '{"a":1}', { qos: 1 })
    await c.publishAsync('hook/missing', '{"a":2}', { qos: 1 })
    await c.publishAsync('hook/broken', '{"a":3}', { qos: 1 })
    const errors = await inbox.count(2)
    const docs = errors.map((e) => JSON.parse(e.payload) as Record<string, any>)
    expect(docs.map((d) => d.failures[0].errorMessage).sort()).toEqual([
      `POST ${base}/broken answered 500: nope`,
      `POST ${base}/missing answered 404: nope`,
    ])
    expect(docs[0]).toMatchObject({ ruleName: 'webhook', clientId: 'dev-7', failures: [{ failedAction: 'http' }] })
    expect(Buffer.from(docs[0]!.base64OriginalPayload, 'base64').toString()).toMatch(/^\{"a":[23]\}$/)
    expect(calls.find((x) => x.path === '/ok')).toMatchObject({ body: '{"a":1}', auth: 'dev-7' })
    const stats = (await f.api('/rules')).rules[0].stats
    expect(stats.actions[0]).toMatchObject({ success: 1, failure: 2 })
    expect(stats.errorAction).toMatchObject({ success: 2, failure: 0 })
  })

  it('fails on a refused connection and on a timeout', async () => {
    const server = createServer(() => {
      // never answers
    })
    const slow = `http://127.0.0.1:${await f.listen(server)}/slow`
    const refused = `http://127.0.0.1:${await closedPort()}/refused`
    await f.start(`
rules:
  - name: slow
    sql: SELECT * FROM 'slow'
    actions:
      - http: { url: '${slow}', timeout: 200ms }
      - http: { url: '${refused}' }
    errorAction:
      republish: { topic: 'errors/rules' }
`)
    const c = await f.connect()
    const inbox = new Inbox(c)
    await c.subscribeAsync('errors/rules')
    await c.publishAsync('slow', '{}', { qos: 1 })
    const messages = (await inbox.count(2)).map((m) => JSON.parse(m.payload).failures[0].errorMessage as string).sort()
    expect(messages).toEqual([`POST ${refused} failed: ECONNREFUSED`, `POST ${slow} failed: timed out after 200 ms`].sort())
  })
})

describe('the admin API', () => {
  it('needs the bearer token', async () => {
    await f.start('')
    expect((await fetch(`${f.app.httpUrl}/api/rules`)).status).toBe(401)
    expect((await fetch(`${f.app.httpUrl}/api/rules`, { headers: { authorization: 'Bearer wrong' } })).status).toBe(401)
    expect((await f.request('/rules')).status).toBe(200)
  })

  it('is closed when no token is configured', async () => {
    const t = await f.start('', { noAdmin: true })
    const res = await fetch(`${t.httpUrl}/api/rules`, { headers: { authorization: `Bearer ${TOKEN}` } })
    expect(res.status).toBe(403)
    expect(((await res.json()) as { error: string }).error).toMatch(/set admin.token/)
  })
})
