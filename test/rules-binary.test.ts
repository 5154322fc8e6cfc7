import { createServer } from 'node:http'
import type { MqttClient } from 'mqtt'
import { describe, expect, it } from 'vitest'
import { Inbox } from './helpers/mqtt.js'
import { useApp } from './helpers/use-app.js'
import { waitUntil } from './helpers/wait.js'

// `SELECT *` of a payload that is not JSON is the payload's own bytes, sent
// on unchanged, as AWS IoT Core does (developerguide/binary-payloads.md).

const TOKEN = 'binary-admin-token-0123456789'
const f = useApp({ adminToken: TOKEN })

/** Not valid UTF-8, with a zero byte in it: survives no text round trip. */
const BYTES = Buffer.from([0xff, 0x00, 0xfe])
/** Text that is not JSON. */
const TEXT = Buffer.from('temp=21.5; ok')

/** Every message `client` receives, by topic, as the bytes that came in. */
function received(client: MqttClient): Map<string, Buffer[]> {
  const got = new Map<string, Buffer[]>()
  client.on('message', (topic, payload) => got.set(topic, [...(got.get(topic) ?? []), payload]))
  return got
}

interface Request {
  method: string
  url: string
  contentType: string | undefined
  body: Buffer
}

/** An HTTP server on 127.0.0.1 that answers 200 and keeps each request's body as bytes. */
async function rawServer(): Promise<{ base: string; requests: Request[] }> {
  const requests: Request[] = []
  const server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (d: Buffer) => chunks.push(d))
    req.on('end', () => {
      requests.push({ method: req.method!, url: req.url!, contentType: req.headers['content-type'], body: Buffer.concat(chunks) })
      res.end()
    })
  })
  return { base: `http://127.0.0.1:${await f.listen(server)}`, requests }
}

interface RuleStats {
  name: string
  stats: { matched: number; passed: number; failed: number }
}
const ruleStats = async (name: string) => ((await f.api('/rules')) as { rules: RuleStats[] }).rules.find((r) => r.name === name)!.stats

describe('SELECT * of a payload that is not JSON', () => {
  it('republishes the exact bytes, with and without a WHERE, and a JSON payload as before', async () => {
    await f.start(`
rules:
  - name: copy
    sql: SELECT * FROM 'in/+'
    actions:
      - republish: { topic: 'copy/\${topic(2)}', qos: 1 }
  - name: filtered
    sql: SELECT * FROM 'in/+' WHERE topic(2) <> 'skip'
    actions:
      - republish: { topic: 'filtered/\${topic(2)}', qos: 1 }
`)
    const c = await f.connect()
    const got = received(c)
    await c.subscribeAsync(['copy/#', 'filtered/#'], { qos: 1 })
    const json = Buffer.from('{ "a": 1,  "big": 12345678901234567890 }')
    await c.publishAsync('in/bytes', BYTES, { qos: 1 })
    await c.publishAsync('in/text', TEXT, { qos: 1 })
    await c.publishAsync('in/json', json, { qos: 1 })
    await c.publishAsync('in/skip', BYTES, { qos: 1 })
    await waitUntil(() => got.size, { until: (n) => n === 7, what: 'copy/{bytes,text,json,skip} and filtered/{bytes,text,json}' })
    for (const prefix of ['copy', 'filtered']) {
      expect(got.get(`${prefix}/bytes`)).toEqual([BYTES])
      expect(got.get(`${prefix}/text`)).toEqual([TEXT])
      expect(got.get(`${prefix}/json`)).toEqual([json])
    }
    expect(got.has('filtered/skip')).toBe(false)
  })

  it("gives base64 in a JSON object through encode(*, 'base64')", async () => {
    await f.start(`
rules:
  - name: encoded
    sql: SELECT encode(*, 'base64') AS data FROM 'enc/#'
    actions:
      - republish: { topic: 'encoded' }
`)
    const c = await f.connect()
    const inbox = new Inbox(c)
    await c.subscribeAsync('encoded')
    await c.publishAsync('enc/1', BYTES, { qos: 1 })
    expect((await inbox.on('encoded')).payload).toBe('{"data":"/wD+"}')
  })

  it('with other columns fails the rule, as AWS merges columns only into an empty or a JSON payload', async () => {
    await f.start(`
rules:
  - name: merged
    sql: SELECT *, clientId() AS c FROM 'merge/#'
    actions:
      - republish: { topic: 'merged/\${topic(2)}', qos: 1 }
`)
    const c = await f.connect({ clientId: 'dev-1' })
    const got = received(c)
    await c.subscribeAsync('merged/#', { qos: 1 })
    await c.publishAsync('merge/bytes', BYTES, { qos: 1 })
    await c.publishAsync('merge/json', '{"a":1}', { qos: 1 })
    await c.publishAsync('merge/empty', Buffer.alloc(0), { qos: 1 })
    await waitUntil(() => ruleStats('merged'), { until: (s) => s.matched === 3 && s.failed === 1 && s.passed === 2, what: 'one of three messages to fail the rule' })
    await waitUntil(() => got.size, { until: (n) => n === 2, what: 'merged/json and merged/empty' })
    expect(JSON.parse(got.get('merged/json')![0]!.toString())).toEqual({ a: 1, c: 'dev-1' })
    expect(JSON.parse(got.get('merged/empty')![0]!.toString())).toEqual({ c: 'dev-1' })
    // The failed message was handled before the ones published after it: had it published, it would be here.
    expect(got.has('merged/bytes')).toBe(false)
  })

  it('keeps WHERE working: functions decide, payload fields are Undefined', async () => {
    await f.start(`
rules:
  - name: byTopic
    sql: SELECT * FROM 'w/+' WHERE topic(2) = 'yes'
    actions:
      - republish: { topic: 'byTopic/\${topic(2)}', qos: 1 }
  - name: byValue
    sql: SELECT * FROM 'w/+' WHERE decode(encode(*, 'base64'), 'base64') > 50
    actions:
      - republish: { topic: 'byValue/\${topic(2)}', qos: 1 }
  - name: byField
    sql: SELECT * FROM 'w/+' WHERE device_type = 'thermostat'
    actions:
      - republish: { topic: 'byField/\${topic(2)}', qos: 1 }
`)
    const c = await f.connect()
    const got = received(c)
    await c.subscribeAsync(['byTopic/#', 'byValue/#', 'byField/#'], { qos: 1 })
    await c.publishAsync('w/yes', BYTES, { qos: 1 })
    await c.publishAsync('w/no', BYTES, { qos: 1 })
    await c.publishAsync('w/hot', '80', { qos: 1 })
    await c.publishAsync('w/cold', '20', { qos: 1 })
    await waitUntil(() => ruleStats('byField'), { until: (s) => s.matched === 4, what: 'byField to see all four messages' })
    await waitUntil(() => got.size, { until: (n) => n === 2, what: 'byTopic/yes and byValue/hot' })
    expect(got.get('byTopic/yes')).toEqual([BYTES])
    // A bare number is not a JSON document to AWS, so * is binary here too: decoded, it compares.
    expect(got.get('byValue/hot')).toEqual([Buffer.from('80')])
    expect(await ruleStats('byField')).toMatchObject({ passed: 0, failed: 0 })
    expect([...got.keys()].sort()).toEqual(['byTopic/yes', 'byValue/hot'])
  })
})

describe('other actions with the bytes of SELECT *', () => {
  it('http sends the exact bytes as application/octet-stream, right away and through the outbox', async () => {
    const { base, requests } = await rawServer()
    await f.start(`
rules:
  - name: hook
    sql: SELECT * FROM 'h/+'
    actions:
      - http: { url: '${base}/now/\${topic(2)}' }
      - http: { url: '${base}/durable/\${topic(2)}', method: PUT, durable: true }
`)
    const c = await f.connect()
    await c.publishAsync('h/bytes', BYTES, { qos: 1 })
    await c.publishAsync('h/text', TEXT, { qos: 1 })
    await c.publishAsync('h/json', '{"a":1}', { qos: 1 })
    await waitUntil(() => requests.length, { until: (n) => n === 6, what: 'six requests' })
    const at = (url: string) => requests.find((r) => r.url === url)!
    for (const kind of ['now', 'durable']) {
      expect(at(`/${kind}/bytes`)).toMatchObject({ contentType: 'application/octet-stream', body: BYTES })
      expect(at(`/${kind}/text`)).toMatchObject({ contentType: 'application/octet-stream', body: TEXT })
      expect(at(`/${kind}/json`)).toMatchObject({ contentType: 'application/json', body: Buffer.from('{"a":1}') })
    }
    expect(at('/durable/bytes').method).toBe('PUT')
  })

  it('store keeps, and invoke hands a function, the base64 of the bytes (both take JSON)', async () => {
    const { base, requests } = await rawServer()
    await f.start(`
functions:
  sink: { url: '${base}/fn' }
rules:
  - name: keep
    sql: SELECT * FROM 's/+'
    actions:
      - store: { table: raw, key: '\${topic(2)}' }
      - invoke: { function: sink }
`)
    const c = await f.connect()
    await c.publishAsync('s/bytes', BYTES, { qos: 1 })
    const events = await waitUntil(async () => (await f.api('/store/raw?key=bytes')).events as Array<{ data: unknown }>, { until: (e) => e.length === 1, what: 'the stored event' })
    expect(events[0]!.data).toBe('/wD+')
    await waitUntil(() => requests.length, { until: (n) => n === 1, what: 'the function call' })
    expect(JSON.parse(requests[0]!.body.toString())).toMatchObject({ event: '/wD+', context: { topic: 's/bytes', rule: 'keep' } })
  })

  it('the dry run shows the bytes as text when they are UTF-8, else in base64, and why a rule would fail', async () => {
    const { base } = await rawServer()
    await f.start(`
rules:
  - name: copy
    sql: SELECT * FROM 'd/+'
    actions:
      - republish: { topic: 'copy' }
      - http: { url: '${base}/hook' }
      - store: { table: raw }
  - name: merged
    sql: SELECT *, clientId() AS c FROM 'd/+'
`)
    const test = async (payloadBase64: string) => (await f.api('/rules/test', { method: 'POST', body: { topic: 'd/1', payloadBase64 } })).results as unknown[]
    expect(await test(BYTES.toString('base64'))).toEqual([
      {
        rule: 'copy',
        from: 'd/+',
        select: '/wD+',
        selectEncoding: 'base64',
        where: null,
        actions: [
          { kind: 'republish', topic: 'copy', payload: '/wD+', payloadEncoding: 'base64', qos: 0, retain: false },
          { kind: 'http', method: 'POST', url: `${base}/hook`, headers: { 'content-type': 'application/octet-stream' }, body: '/wD+', bodyEncoding: 'base64', timeout: 5000 },
          { kind: 'store', table: 'raw', key: null, data: '/wD+' },
        ],
      },
      { rule: 'merged', from: 'd/+', select: null, where: null, error: expect.stringContaining("encode(*, 'base64') AS data"), actions: [] },
    ])
    const [copy] = await test(TEXT.toString('base64'))
    expect(copy).toMatchObject({ select: TEXT.toString(), actions: [{ payload: TEXT.toString() }, { body: TEXT.toString() }, { data: TEXT.toString('base64') }] })
    expect(copy).not.toHaveProperty('selectEncoding')
  })
})
