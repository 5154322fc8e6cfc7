import { copyFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { MqttClient } from 'mqtt'
import { afterEach, beforeEach, expect, it } from 'vitest'
import type { ChildBroker } from '../helpers/child.js'
import { fixturePath } from '../helpers/fixtures.js'
import { Inbox } from '../helpers/mqtt.js'
import { useApp } from '../helpers/use-app.js'
import { waitUntil } from '../helpers/wait.js'

// SIGKILL in the middle of traffic, then a restart on the same SQLite file.
// What the broker acknowledged before it died must come out after: QoS 1
// messages to a persistent subscriber that was still reading, retained
// messages, deliveries to a local function, and events waiting on a held
// route. Duplicates are allowed (at least once); losses are not.
//
// Covered elsewhere: test/crash-recovery.test.ts (an offline session's queue,
// one retained message and wills, after SIGKILL and SIGTERM) and
// test/router-crash.test.ts (deliveries to an HTTP function).

const TOKEN = 'faults-admin-token-0123456789'
const RECORD = fixturePath('faults/record.js')

const f = useApp()
let dir: string
let config: string
let stopPublishing = false

beforeEach(() => {
  dir = f.tempDir('switchyard-crash-')
  config = join(dir, 'switchyard.yaml')
  stopPublishing = false
})
afterEach(() => {
  stopPublishing = true
})

function writeConfig(extra = ''): void {
  writeFileSync(config, `listen: { mqtt: 0, http: 0 }\nstorage: { sqlite: ./data/switchyard.db }\nadmin: { token: ${TOKEN} }\n${extra}`)
}
const start = () => f.startChild(config)
const open = (child: ChildBroker, options = {}) => f.connect(child.mqttUrl, options)
async function kill(child: ChildBroker): Promise<void> {
  const { signal } = await child.kill('SIGKILL')
  expect(signal).toBe('SIGKILL')
  stopPublishing = true
  await f.endClients()
}

/**
 * Publishes `make(i)` at QoS 1, one after the other, until stopped or the
 * connection dies. `acked` holds each i whose PUBACK arrived: from then on
 * the broker owes that message.
 */
function stream(client: MqttClient, make: (i: number) => { topic: string; payload: string; retain?: boolean }): number[] {
  const acked: number[] = []
  void (async () => {
    for (let i = 0; !stopPublishing; i++) {
      const { topic, payload, retain = false } = make(i)
      await client.publishAsync(topic, payload, { qos: 1, retain })
      acked.push(i)
    }
  })().catch(() => {})
  return acked
}

/** The events the record function wrote, in the order it received them. */
function received(): Array<Record<string, unknown>> {
  const file = join(dir, 'received.jsonl')
  if (!existsSync(file)) return []
  return readFileSync(file, 'utf8').split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as Record<string, unknown>)
}

function api(child: ChildBroker, path: string, method = 'GET'): Promise<any> {
  return fetch(`${child.httpUrl}/api${path}`, { method, headers: { authorization: `Bearer ${TOKEN}` } }).then((r) => r.json())
}

it('delivers every PUBACKed QoS 1 message to a persistent subscriber that was still reading when the broker was killed', async () => {
  writeConfig()
  const first = await start()
  const { client: sub, inbox: before } = await f.connectWithInbox(first.mqttUrl, { clientId: 'slow-reader', clean: false })
  await sub.subscribeAsync('stream/#', { qos: 1 })
  // A reader slower than the writer: each PUBACK waits 2 ms and holds up the
  // next packet, so the broker's queue for it grows while the stream runs.
  sub.handleMessage = (_packet, done) => void setTimeout(() => done(), 2)
  const pub = await open(first, { clientId: 'writer' })
  const acked = stream(pub, (i) => ({ topic: `stream/${i % 4}`, payload: String(i) }))

  const seen = () => new Set(before.messages.map((m) => Number(m.payload)))
  await waitUntil(() => acked.length - seen().size > 300, { timeout: 15_000, interval: 20, what: 'the reader to fall over 300 messages behind' })
  await kill(first)
  const owed = acked.slice()
  // Final once the connection is gone (the reader goes on reading what its
  // socket had received): what is still missing can only come from the store.
  const readBefore = seen()
  expect(readBefore.size).toBeGreaterThan(0)
  expect(owed.filter((i) => !readBefore.has(i)).length).toBeGreaterThan(50)

  const second = await start()
  const { inbox: after } = await f.connectWithInbox(second.mqttUrl, { clientId: 'slow-reader', clean: false })
  const missing = () => {
    const got = new Set([...readBefore, ...after.messages.map((m) => Number(m.payload))])
    return owed.filter((i) => !got.has(i))
  }
  await waitUntil(() => missing().slice(0, 10), { until: (m) => m.length === 0, timeout: 15_000, interval: 50, what: 'every PUBACKed message at the reader' })
  expect(after.messages.every((m) => m.packet.qos === 1)).toBe(true)
}, 40_000)

it('keeps the last PUBACKed retained message of every topic when the broker is killed mid-stream', async () => {
  writeConfig()
  const first = await start()
  const pub = await open(first, { clientId: 'status-writer' })
  const TOPICS = 16
  const acked = stream(pub, (i) => ({ topic: `status/${i % TOPICS}`, payload: String(i), retain: true }))
  await waitUntil(() => acked.length > 500, { timeout: 15_000, interval: 20, what: 'over 500 PUBACKs' })
  await kill(first)
  // For each topic, the newest value the broker acknowledged; a later one that
  // was stored but not yet acknowledged may have replaced it.
  const lastAcked = new Map<string, number>()
  for (const i of acked) lastAcked.set(`status/${i % TOPICS}`, i)

  const second = await start()
  const reader = await open(second)
  const inbox = new Inbox(reader)
  await reader.subscribeAsync('status/+', { qos: 1 })
  await inbox.count(TOPICS, 10_000)
  const retained = new Map(inbox.messages.map((m) => [m.topic, Number(m.payload)]))
  expect(inbox.messages.every((m) => m.packet.retain)).toBe(true)
  expect(retained.size).toBe(TOPICS)
  for (const [topic, value] of lastAcked) {
    expect(retained.get(topic)! % TOPICS, topic).toBe(Number(topic.split('/')[1]))
    expect(retained.get(topic), topic).toBeGreaterThanOrEqual(value)
    expect(retained.get(topic), topic).toBeLessThanOrEqual(acked.at(-1)! + 1)
  }
}, 40_000)

it('delivers every recorded delivery to a local function after SIGKILL mid-stream', async () => {
  copyFileSync(RECORD, join(dir, 'record.js'))
  writeConfig(`delivery: { concurrency: 2 }
functions:
  record: { module: ./record.js, timeout: 2s, retry: { attempts: 20, initialDelay: 20ms, maxDelay: 200ms } }
rules:
  - name: jobs
    sql: SELECT * FROM 'jobs/+'
    actions:
      - invoke: { function: record }
`)
  const first = await start()
  const pub = await open(first, { clientId: 'job-writer' })
  // The function takes 3 ms an event and runs two at a time: slower than the
  // publisher, so deliveries are still owed when the broker dies.
  const acked = stream(pub, (i) => ({ topic: 'jobs/a', payload: JSON.stringify({ i, sleepMs: 3 }) }))
  await waitUntil(() => acked.length > 300, { timeout: 15_000, interval: 20, what: 'over 300 PUBACKs' })
  await kill(first)
  const owed = acked.slice()
  const got = () => new Set(received().map((e) => e.i as number))
  const before = got()
  expect(before.size).toBeGreaterThan(0)
  expect(owed.filter((i) => !before.has(i)).length).toBeGreaterThan(0)

  await start()
  await waitUntil(() => owed.filter((i) => !got().has(i)).slice(0, 10), { until: (m) => m.length === 0, timeout: 20_000, interval: 100, what: 'every recorded delivery at the function' })
}, 45_000)

it('keeps events waiting on a held route through SIGKILL and delivers them in order on release', async () => {
  copyFileSync(RECORD, join(dir, 'record.js'))
  // With the default concurrency: a released backlog goes one delivery at a time.
  writeConfig(`functions:
  record: { module: ./record.js }
routes:
  orders:
    targets: [ { function: record } ]
rules:
  - name: orders
    sql: SELECT * FROM 'orders/+'
    actions:
      - invoke: { route: orders }
`)
  const first = await start()
  expect(await api(first, '/routes/orders/hold', 'POST')).toMatchObject({ held: true })
  const pub = await open(first, { clientId: 'order-writer' })
  const acked = stream(pub, (i) => ({ topic: 'orders/eu', payload: JSON.stringify({ n: i }) }))
  await waitUntil(() => acked.length >= 50, { timeout: 15_000, interval: 10, what: '50 PUBACKs' })
  await kill(first)
  const owed = acked.slice()
  expect(received()).toEqual([])

  const second = await start()
  // The hold itself survived, and so did every event that waits on it (the
  // one whose PUBACK was on its way when the broker died may be there too).
  await waitUntil(async () => (await api(second, '/routes/orders')).heldEvents as number, { until: (n) => n >= owed.length, timeout: 5000, what: `${owed.length} events held on the orders route` })
  const waiting = (await api(second, '/routes/orders')) as { held: boolean; heldEvents: number }
  expect(waiting.held).toBe(true)
  expect(waiting.heldEvents).toBeLessThanOrEqual(owed.length + 1)
  expect(received()).toEqual([])

  expect(await api(second, '/routes/orders/release', 'POST')).toMatchObject({ held: false, released: waiting.heldEvents })
  await waitUntil(() => received().length, { until: (n) => n === waiting.heldEvents, timeout: 10_000, what: `the ${waiting.heldEvents} released events at the function` })
  expect(received().map((e) => e.n)).toEqual(Array.from({ length: waiting.heldEvents }, (_, i) => i))
}, 40_000)
