import { isDeepStrictEqual } from 'node:util'
import { describe, expect, it } from 'vitest'
import type { Inbox } from '../helpers/mqtt.js'
import { useApp } from '../helpers/use-app.js'
import { waitUntil } from '../helpers/wait.js'
import { prng } from './mqtt-fuzz.js'

// Payloads the rules cannot read as JSON, and SQL that meets data it cannot
// compute with. AWS IoT's answer is Undefined (the column is left out),
// `SELECT *` as the payload's own bytes (and `*` in an expression as their
// base64) for a payload that is not a JSON object or array, and the
// errorAction for an action that fails; the rule counts the failure and the
// broker goes on serving everyone else.

const TOKEN = 'test-admin-token-0123456789'
const DEEP = 100_000

const f = useApp({ adminToken: TOKEN })

/** A WebSocket client subscribed to `filters`, and what it receives. */
async function listen(...filters: string[]): Promise<Inbox> {
  const { client, inbox } = await f.connectWithInbox(f.app.wsUrl)
  await client.subscribeAsync(filters, { qos: 1 })
  return inbox
}
const deepArray = (depth: number) => '['.repeat(depth) + ']'.repeat(depth)
const b64 = (payload: string | Buffer) => Buffer.from(payload).toString('base64')

describe('payloads that are not JSON', () => {
  it('are their own bytes to SELECT *, have no fields, and a deep or huge JSON payload stays a JSON payload', async () => {
    await f.start(`
rules:
  - name: whole
    sql: SELECT * FROM 'in/#'
    actions:
      - republish: { topic: 'out/whole/\${topic(2)}' }
    errorAction:
      republish: { topic: 'errors/whole' }
  - name: fields
    sql: >-
      SELECT temp, temp * 10 AS tenfold, topic(2) AS kind, isUndefined(temp) AS noTemp, encode(*, 'base64') AS raw
      FROM 'in/#'
    actions:
      - republish: { topic: 'out/fields/\${topic(2)}' }
`)
    const inbox = await listen('out/#', 'errors/#')
    const pub = await f.connect({ clientId: 'sender' })
    const binary = Buffer.from([0x00, 0xff, 0xfe, 0x7b, 0x22, 0x80])
    const payloads: Record<string, string | Buffer> = {
      text: 'hello world',
      truncated: '{"temp": 21.5, "unit": "C"',
      scalar: '80',
      string: '"21.5"',
      binary,
      badutf8: Buffer.concat([Buffer.from('{"temp": "'), Buffer.from([0xff]), Buffer.from('"}')]),
      huge: '{"temp": 1e308, "id": 123456789012345678901234567890}',
      deep: deepArray(DEEP),
    }
    for (const [kind, payload] of Object.entries(payloads)) await pub.publishAsync(`in/${kind}`, payload, { qos: 1 })
    await pub.publishAsync('in/end', '{}', { qos: 1 })
    await inbox.waitFor((m) => m.some((x) => x.topic === 'out/fields/end') && m.some((x) => x.topic === 'out/whole/end'), 5000)
    const whole = (kind: string) => inbox.messages.find((m) => m.topic === `out/whole/${kind}`)?.payload
    const wholeBytes = (kind: string) => inbox.messages.find((m) => m.topic === `out/whole/${kind}`)?.packet.payload
    const fields = (kind: string) => JSON.parse(inbox.messages.find((m) => m.topic === `out/fields/${kind}`)!.payload) as Record<string, unknown>

    // SELECT *: the payload as it came, byte for byte, when it is not a JSON object or array.
    for (const kind of ['text', 'truncated', 'scalar', 'string', 'binary']) expect(wholeBytes(kind), kind).toEqual(Buffer.from(payloads[kind]!))
    // ... and its fields are Undefined: left out, and isUndefined() says so.
    for (const kind of ['text', 'truncated', 'scalar', 'string', 'binary']) {
      expect(fields(kind), kind).toEqual({ kind, noTemp: true, raw: b64(payloads[kind]!) })
    }
    // A JSON object is read as JSON, whatever bytes its strings hold.
    expect(fields('badutf8')).toMatchObject({ temp: '\uFFFD', noTemp: false })
    // Numbers are doubles: a product past their range is not a finite number, so Undefined.
    expect(fields('huge')).toEqual({ temp: 1e308, kind: 'huge', noTemp: false, raw: b64(payloads.huge!) })
    expect(JSON.parse(whole('huge')!)).toEqual({ temp: 1e308, id: 1.2345678901234568e29 })
    // A JSON array nested 100,000 deep is a JSON payload: it has no fields ...
    expect(fields('deep')).toEqual({ kind: 'deep', noTemp: true, raw: b64(payloads.deep!) })
    // ... and as a whole, too deep to be written out again, it goes on as it came: a JSON document
    // that is the SELECT output is republished as its own bytes.
    expect(whole('deep')).toBe(payloads.deep)
    expect(inbox.messages.filter((m) => m.topic.startsWith('errors/'))).toEqual([])
    expect(await f.metric('switchyard_rule_action_failure_total{rule="whole",action="0",kind="republish"}')).toBe(0)
    expect(await f.metric('switchyard_rule_action_failure_total{rule="fields",action="0",kind="republish"}')).toBe(0)
  })
})

describe('SQL that cannot compute', () => {
  it('gives Undefined for division and mod by zero, missing fields, bad casts and paths into non-objects', async () => {
    await f.start(`
rules:
  - name: calc
    sql: >-
      SELECT a / z AS div0, a / 0.0 AS divDecimal0, a % z AS rem0, mod(a, 0) AS mod0,
        missing AS m1, missing.deep.path AS m2, isUndefined(missing.deep) AS noDeep, get(arr, 5) AS past,
        cast(s AS Int) AS badInt, cast(s AS Decimal) AS badDecimal, cast(s AS Boolean) AS badBool, cast(obj AS Int) AS objInt,
        cast(n AS Int) AS nInt, cast(n AS Decimal) AS nDecimal, cast('TRUE' AS Boolean) AS yes,
        str.x AS strField, a.b AS numField, arr.x AS arrField, obj.x.y AS intoNumber, a[0] AS numIndex, str[1] AS strIndex,
        a + s AS joined, a - s AS badMinus, s * 2 AS badTimes, -s AS badNegate, sqrt(-1) AS badRoot
      FROM 'calc/#'
    actions:
      - republish: { topic: 'calc-out' }
  - name: guarded
    sql: SELECT a FROM 'calc/#' WHERE a / z > 1 OR mod(a, z) = 0
    actions:
      - republish: { topic: 'calc-guarded' }
`)
    const inbox = await listen('calc-out', 'calc-guarded')
    const pub = await f.connect()
    await pub.publishAsync('calc/1', JSON.stringify({ a: 10, z: 0, s: 'abc', n: '12.5', arr: [1, 2], obj: { x: 1 }, str: 'hello' }), { qos: 1 })
    const out = JSON.parse((await inbox.on('calc-out')).payload) as Record<string, unknown>
    // Everything that could not be computed is Undefined, so left out; the rest is as AWS computes it.
    expect(out).toEqual({ noDeep: true, nInt: 12, nDecimal: 12.5, yes: true, strIndex: 'e', joined: '10abc' })
    // A WHERE that is Undefined is not true: the rule does not pass, and nothing failed.
    await pub.publishAsync('calc/2', '{"a": 1}', { qos: 1 })
    await inbox.waitFor((m) => m.filter((x) => x.topic === 'calc-out').length === 2)
    expect(inbox.messages.filter((m) => m.topic === 'calc-guarded')).toEqual([])
    const rules = (await f.api('/rules')).rules as Array<{ name: string; stats: { matched: number; passed: number; failed: number } }>
    expect(rules.find((r) => r.name === 'guarded')!.stats).toMatchObject({ matched: 2, passed: 0, failed: 0 })
  })
})

describe('actions that fail on bad input', () => {
  it('send the errorAction its document, count the failure per rule, and store the good events of the same turn', async () => {
    await f.start(`
rules:
  - name: relay
    sql: SELECT * FROM 'act/#'
    actions:
      - republish: { topic: 'relayed/\${kind}' }
    errorAction:
      republish: { topic: 'errors/relay' }
  - name: keep
    sql: SELECT * FROM 'act/#'
    actions:
      - store: { table: kept }
    errorAction:
      republish: { topic: 'errors/keep' }
  - name: digest
    sql: SELECT md5(*) AS h FROM 'act/#'
    actions:
      - republish: { topic: 'digests' }
`)
    const inbox = await listen('relayed/#', 'errors/#', 'digests')
    const pub = await f.connect({ clientId: 'device-7' })
    // A topic template that fills in a wildcard: no such topic can be published to.
    await pub.publishAsync('act/1', JSON.stringify({ kind: '#' }), { qos: 1 })
    const relayError = JSON.parse((await inbox.on('errors/relay')).payload) as Record<string, any>
    expect(relayError).toEqual({
      ruleName: 'relay',
      topic: 'act/1',
      clientId: 'device-7',
      timestamp: expect.any(Number),
      base64OriginalPayload: b64(JSON.stringify({ kind: '#' })),
      originalPayload: { kind: '#' },
      failures: [{ failedAction: 'republish', failedResource: 'relayed/#', errorMessage: 'cannot republish to "relayed/#": a topic name must not contain wildcards', retryable: false }],
    })

    // A deep payload and a good one in the same breath: only the deep one fails to be stored.
    pub.publish('act/deep', deepArray(DEEP), { qos: 0 })
    pub.publish('act/good', JSON.stringify({ kind: 'good' }), { qos: 0 })
    const keepError = JSON.parse((await inbox.on('errors/keep')).payload) as Record<string, any>
    expect(keepError).toMatchObject({ ruleName: 'keep', topic: 'act/deep', base64OriginalPayload: b64(deepArray(DEEP)) })
    expect(keepError.failures).toEqual([{ failedAction: 'store', failedResource: 'kept', errorMessage: 'cannot store the event in table kept: its data is nested too deeply to be written as JSON', retryable: false }])
    // Too deep to write out again, the parsed copy is left out of the document (the base64 one is there).
    expect(keepError).not.toHaveProperty('originalPayload')
    await waitUntil(async () => (await f.api('/store/kept')).events.map((e: { topic: string }) => e.topic), { until: (topics) => isDeepStrictEqual(topics, ['act/good', 'act/1']), what: 'act/good and act/1 stored, newest first, and nothing else' })

    // md5(*) of a document too deep to be a string cannot be evaluated: the rule counts it as failed.
    await inbox.waitFor((m) => m.filter((x) => x.topic === 'digests').length === 2)
    const rules = (await f.api('/rules')).rules as Array<{ name: string; stats: Record<string, any> }>
    const stats = Object.fromEntries(rules.map((r) => [r.name, r.stats]))
    expect(stats.digest).toMatchObject({ matched: 3, passed: 2, failed: 1 })
    expect(stats.keep!.actions[0]).toMatchObject({ success: 2, failure: 1 })
    expect(stats.keep!.errorAction).toMatchObject({ success: 1, failure: 0 })
    expect(await f.metric('switchyard_rule_failed_total{rule="digest"}')).toBe(1)
    expect(await f.metric('switchyard_rule_action_failure_total{rule="keep",action="0",kind="store"}')).toBe(1)
    // The relay failed on the wildcard only: the deep document went on as it came (to `relayed/`, having no kind).
    expect(await f.metric('switchyard_rule_action_failure_total{rule="relay",action="0",kind="republish"}')).toBe(1)
    expect(inbox.messages.find((m) => m.topic === 'relayed/')?.payload).toBe(deepArray(DEEP))
  })

  it('leave other clients unaffected while hundreds of bad payloads go through the rules', async () => {
    await f.start(`
rules:
  - name: everything
    sql: SELECT *, temp * 2 AS double, a.b[0].c AS nested, cast(temp AS Int) AS whole FROM 'bad/#' WHERE temp > 0 OR isUndefined(temp)
    actions:
      - republish: { topic: 'bad-out/\${topic(2)}' }
      - store: { table: bad }
    errorAction:
      republish: { topic: 'bad-errors' }
`)
    const bystanders = await listen('chat/#')
    const talker = await f.connect({ clientId: 'talker' })
    const attacker = await f.connect({ clientId: 'attacker' })
    const seed = Math.floor(Math.random() * 2 ** 31)
    const rng = prng(seed)
    const valid = JSON.stringify({ temp: 21.5, a: { b: [{ c: 'x' }] }, tags: ['a', 'b'] })
    const bad = (): string | Buffer => {
      switch (Math.floor(rng() * 6)) {
        case 0: return valid.slice(0, Math.floor(rng() * valid.length)) // truncated
        case 1: return Buffer.from(Array.from({ length: 1 + Math.floor(rng() * 64) }, () => Math.floor(rng() * 256))) // binary
        case 2: return deepArray(1000 + Math.floor(rng() * 50_000)) // deep
        case 3: return `{"temp": ${rng() < 0.5 ? '1e400' : '-1e400'}, "a": 5}` // out of range
        case 4: return `{"temp": "${'9'.repeat(400)}", "a": {"b": "not an array"}}` // a numeric string no double holds
        default: return valid
      }
    }
    const count = 300
    const flood = (async () => {
      for (let i = 0; i < count; i++) await attacker.publishAsync(`bad/${i}`, bad(), { qos: i % 2 as 0 | 1 })
    })()
    let said = 0
    while (said < 50) await talker.publishAsync(`chat/${said}`, `line ${said++}`, { qos: 1 })
    await flood
    await bystanders.count(said, 5000)
    expect(bystanders.messages.map((m) => m.payload), `seed ${seed}`).toEqual(Array.from({ length: said }, (_, i) => `line ${i}`))
    expect(attacker.connected && talker.connected).toBe(true)
    await waitUntil(async () => (await f.api('/rules')).rules[0].stats.matched, { until: (n) => n === count, timeout: 5000, what: `the rule to match all ${count} bad payloads` })
    expect((await fetch(`${f.app.httpUrl}/healthz`)).status).toBe(200)
  })
})
