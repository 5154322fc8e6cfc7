import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { Socket } from 'node:net'
import { beforeEach, expect, it } from 'vitest'
import type { ChildBroker } from '../helpers/child.js'
import { fixturePath } from '../helpers/fixtures.js'
import { Inbox } from '../helpers/mqtt.js'
import { closedPort } from '../helpers/net.js'
import { useApp } from '../helpers/use-app.js'
import { within } from '../helpers/wait.js'

// Functions and HTTP targets that fail in every way we know of, behind rules,
// in a `switchyard start` child process: each failure is retried as its
// policy says, ends in the dead letters with the reason, and is reported on
// $events; meanwhile the broker answers everyone else as fast as before.

const TOKEN = 'faults-admin-token-0123456789'
// Short policies keep the test fast: the first retry after 10-20 ms.
const RETRY = (attempts: number) => `{ attempts: ${attempts}, initialDelay: 20ms, maxDelay: 50ms }`

const f = useApp()
let dir: string
let child: ChildBroker | undefined
let targets: FaultyServer
let refusedPort: number

beforeEach(async () => {
  dir = f.tempDir('switchyard-faults-')
  targets = await faultyServer()
  refusedPort = await closedPort()
})

interface FaultyServer {
  url: string
  /** Requests per path. */
  hits: Map<string, number>
}

/**
 * One HTTP server for every faulty target: `/500/...` answers 500, `/hang/...`
 * never answers, anything else 200. Counts the requests per path.
 */
async function faultyServer(): Promise<FaultyServer> {
  const hits = new Map<string, number>()
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const path = req.url ?? ''
    hits.set(path, (hits.get(path) ?? 0) + 1)
    req.resume()
    req.on('end', () => {
      if (path.startsWith('/hang/')) return // never answered
      res.statusCode = path.startsWith('/500/') ? 500 : 200
      res.setHeader('content-type', 'application/json')
      res.end(path.startsWith('/500/') ? '{"error":"the target is broken"}' : '{}')
    })
  })
  return { url: `http://127.0.0.1:${await f.listen(server)}`, hits }
}

interface Target {
  /** The name in `functions:` or `routes:`, and the last level of its dead-letter topic. */
  name: string
  kind: 'function' | 'route'
  yaml: string
  attempts: number
  /** The dead letter's error. */
  error: RegExp
  /** The path the target is sent to on the faulty server, when it is there. */
  path?: string
}

function localFunctions(): Target[] {
  return [
    { name: 'throws', kind: 'function', yaml: `{ module: ${fixturePath('functions/throws.js')}, retry: ${RETRY(3)} }`, attempts: 3, error: /^function throws threw: boom$/ },
    { name: 'spins', kind: 'function', yaml: `{ module: ${fixturePath('functions/spin.js')}, timeout: 300ms, retry: ${RETRY(2)} }`, attempts: 2, error: /^function spins timed out after 300 ms$/ },
    { name: 'exits', kind: 'function', yaml: `{ module: ${fixturePath('functions/exits.js')}, retry: ${RETRY(3)} }`, attempts: 3, error: /^function exits exited its worker \(code 3\)$/ },
    // What JSON cannot hold is not retried: the same code would return it again.
    { name: 'returnsFunction', kind: 'function', yaml: `{ module: ${fixturePath('functions/bad-result.js')}, retry: ${RETRY(3)} }`, attempts: 1, error: /^function returnsFunction returned a result that cannot be sent back \(.*could not be cloned/ },
    { name: 'returnsBigint', kind: 'function', yaml: `{ module: ${fixturePath('faults/returns-bigint.js')}, retry: ${RETRY(3)} }`, attempts: 1, error: /^function returnsBigint returned a result that is not JSON \(Do not know how to serialize a BigInt\)$/ },
    { name: 'returnsCircular', kind: 'function', yaml: `{ module: ${fixturePath('faults/returns-circular.js')}, retry: ${RETRY(3)} }`, attempts: 1, error: /^function returnsCircular returned a result that is not JSON \(Converting circular structure to JSON\)$/ },
  ]
}

function httpTargets(): Target[] {
  const url = targets.url
  const refused = `http://127.0.0.1:${refusedPort}`
  return [
    { name: 'fn500', kind: 'function', path: '/500/fn', yaml: `{ url: '${url}/500/fn', timeout: 2s, retry: ${RETRY(3)} }`, attempts: 3, error: /^function fn500 answered 500: \{"error":"the target is broken"\}$/ },
    { name: 'fnHangs', kind: 'function', path: '/hang/fn', yaml: `{ url: '${url}/hang/fn', timeout: 200ms, retry: ${RETRY(3)} }`, attempts: 3, error: /^function fnHangs timed out after 200 ms$/ },
    { name: 'fnRefused', kind: 'function', yaml: `{ url: '${refused}/fn', timeout: 2s, retry: ${RETRY(3)} }`, attempts: 3, error: new RegExp(`^function fnRefused could not be reached at ${refused}/fn: ECONNREFUSED$`) },
    { name: 'url500', kind: 'route', path: '/500/route', yaml: `{ targets: [ { url: '${url}/500/route', timeout: 2s } ], retry: ${RETRY(3)} }`, attempts: 3, error: new RegExp(`^POST ${url}/500/route answered 500: \\{"error":"the target is broken"\\}$`) },
    { name: 'urlHangs', kind: 'route', path: '/hang/route', yaml: `{ targets: [ { url: '${url}/hang/route', timeout: 200ms } ], retry: ${RETRY(3)} }`, attempts: 3, error: new RegExp(`^POST ${url}/hang/route failed: timed out after 200 ms$`) },
    { name: 'urlRefused', kind: 'route', yaml: `{ targets: [ { url: '${refused}/route' } ], retry: ${RETRY(3)} }`, attempts: 3, error: new RegExp(`^POST ${refused}/route failed: ECONNREFUSED$`) },
  ]
}

/** Starts a child with each target behind a rule on `fail/{name}`, whose errorAction republishes to errors/{name}. */
async function startWith(list: Target[]): Promise<ChildBroker> {
  const functions = list.filter((t) => t.kind === 'function').map((t) => `  ${t.name}: ${t.yaml}`)
  const routes = list.filter((t) => t.kind === 'route').map((t) => `  ${t.name}: ${t.yaml}`)
  const rules = list.map((t) => `  - { name: to_${t.name}, sql: "SELECT * FROM 'fail/${t.name}'", actions: [ { invoke: { ${t.kind}: ${t.name} } } ], errorAction: { republish: { topic: 'errors/${t.name}' } } }`)
  const file = f.writeConfig([
    'listen: { mqtt: 0, http: 0 }',
    'storage: { sqlite: ./switchyard.db }',
    `admin: { token: ${TOKEN} }`,
    ...(functions.length ? ['functions:', ...functions] : []),
    ...(routes.length ? ['routes:', ...routes] : []),
    'rules:',
    ...rules,
    '',
  ].join('\n'), dir)
  child = await f.startChild(file)
  return child
}

const open = (options = {}) => f.connect(child!.mqttUrl, options)

function api(path: string, init: RequestInit = {}): Promise<Response> {
  return fetch(`${child!.httpUrl}${path}`, { ...init, headers: { authorization: `Bearer ${TOKEN}`, ...init.headers } })
}

/** `switchyard_delivery_failures_total` by target, from /metrics. */
async function failuresByTarget(): Promise<Map<string, number>> {
  const text = await (await api('/metrics')).text()
  const counts = new Map<string, number>()
  for (const [, target, n] of text.matchAll(/^switchyard_delivery_failures_total\{target="([^"]+)"\} (\d+)$/gm)) counts.set(target!, Number(n))
  return counts
}

/**
 * Sends one event to each target and checks what a user sees: the attempts,
 * the dead letter (on $events and in the API), the failed events of
 * functions and the rule's errorAction.
 */
async function failEach(list: Target[]): Promise<void> {
  const c = await open()
  const inbox = new Inbox(c)
  await c.subscribeAsync(['$events/deadletter/+', '$events/functions/+/failed', 'errors/+'], { qos: 1 })
  for (const t of list) await c.publishAsync(`fail/${t.name}`, JSON.stringify({ target: t.name }), { qos: 1 })
  const letterOf = (t: Target) => inbox.messages.find((m) => m.topic === `$events/deadletter/${t.name}`)
  await inbox.waitFor(() => list.every((t) => letterOf(t) && inbox.messages.some((m) => m.topic === `errors/${t.name}`)), 15_000, 'a dead letter and an error document for every target')

  const failures = await failuresByTarget()
  const { deadLetters } = await (await api('/api/deadletters')).json() as { deadLetters: Array<{ target: string; via: string | null; attempts: number; error: string; event: unknown }> }
  expect(deadLetters).toHaveLength(list.length)
  for (const t of list) {
    const letter = JSON.parse(letterOf(t)!.payload) as { target: string; attempts: number; error: string; event: unknown }
    expect(letter.attempts, t.name).toBe(t.attempts)
    expect(letter.error, t.name).toMatch(t.error)
    expect(letter.event, t.name).toEqual({ target: t.name })
    const listed = deadLetters.find((d) => (t.kind === 'function' ? d.target === `function:${t.name}` : d.via === t.name))
    expect(listed, t.name).toMatchObject({ target: letter.target, attempts: t.attempts, error: letter.error, event: { target: t.name } })
    expect(failures.get(letter.target), t.name).toBe(t.attempts)
    if (t.path) expect(targets.hits.get(t.path), t.name).toBe(t.attempts)
    const errorDoc = JSON.parse(inbox.messages.find((m) => m.topic === `errors/${t.name}`)!.payload)
    expect(errorDoc, t.name).toMatchObject({ ruleName: `to_${t.name}`, failures: [{ errorMessage: letter.error }] })
    if (t.kind === 'function') {
      const failed = inbox.messages.filter((m) => m.topic === `$events/functions/${t.name}/failed`).map((m) => JSON.parse(m.payload))
      expect(failed.map((f) => f.attempt), t.name).toEqual(Array.from({ length: t.attempts }, (_, i) => i + 1))
      expect(failed.every((f) => f.error === letter.error), t.name).toBe(true)
    }
  }
}

it('retries local functions that throw, spin, exit their worker or return what JSON cannot hold, then dead-letters them', async () => {
  await startWith(localFunctions())
  await failEach(localFunctions())

  // Retries back off: with equal jitter the second try of `throws` starts at
  // least 10 ms after the first failed (half of 20 ms), the third at least 20
  // ms after the second (half of 40 ms).
  const c = await open()
  const inbox = new Inbox(c)
  await c.subscribeAsync('$events/functions/throws/+', { qos: 1 })
  await c.publishAsync('fail/throws', '{}', { qos: 1 })
  await inbox.waitFor((m) => m.filter((x) => x.topic.endsWith('/failed')).length === 3, 5000)
  const at = (type: string, attempt: number) => JSON.parse(inbox.messages.find((m) => m.topic.endsWith(`/${type}`) && JSON.parse(m.payload).attempt === attempt)!.payload).timestamp as number
  expect(at('invoking', 2) - at('failed', 1)).toBeGreaterThanOrEqual(10)
  expect(at('invoking', 3) - at('failed', 2)).toBeGreaterThanOrEqual(20)

  // Called directly, the same functions answer 502 with the same sentence.
  for (const [name, error] of [['returnsBigint', /not JSON \(Do not know how to serialize a BigInt\)/], ['returnsCircular', /not JSON \(Converting circular structure to JSON\)/], ['exits', /exited its worker \(code 3\)/]] as const) {
    const res = await api(`/api/functions/${name}/invoke`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"event":{}}' })
    expect(res.status, name).toBe(502)
    expect((await res.json() as { error: string }).error, name).toMatch(error)
  }
})

it('retries HTTP functions and route URL targets that answer 500, time out or refuse the connection, then dead-letters them', async () => {
  await startWith(httpTargets())
  await failEach(httpTargets())
})

it('keeps the latency of other traffic while functions and targets fail', async () => {
  const all = [...localFunctions(), ...httpTargets()]
  await startWith(all)
  const pinger = await open({ clientId: 'pinger' })
  // MQTT.js leaves Nagle's algorithm on: its PUBACK of one ping would hold
  // the next PUBLISH until the broker's delayed ACK, 40 ms on Linux.
  ;(pinger.stream as Socket).setNoDelay(true)
  const pongs = new Map<string, () => void>()
  pinger.on('message', (_topic, payload) => pongs.get(payload.toString())?.())
  await pinger.subscribeAsync('ping/pinger', { qos: 1 })
  const watcher = await open()
  const letters = new Inbox(watcher)
  await watcher.subscribeAsync('$events/deadletter/+', { qos: 1 })

  /** One round trip: a QoS 1 publish to itself, until the message comes back. */
  const roundTrip = async (i: number): Promise<number> => {
    const started = performance.now()
    const back = new Promise<void>((resolve) => pongs.set(String(i), resolve))
    await within(pinger.publishAsync('ping/pinger', String(i), { qos: 1 }), 5000, `the PUBACK of ping ${i}`)
    await within(back, 5000, `ping ${i} to come back`)
    pongs.delete(String(i))
    return performance.now() - started
  }
  // Paced a millisecond apart: back to back, the pinger would pass the
  // default publish rate limit (1000 a second) and be disconnected.
  let n = 0
  const pause = () => new Promise((resolve) => setTimeout(resolve, 1))
  const sample = async (count: number): Promise<number[]> => {
    const samples: number[] = []
    for (let i = 0; i < count; i++) {
      samples.push(await roundTrip(n++))
      await pause()
    }
    return samples
  }
  await sample(200) // warm up

  // The machine is shared (other test files run beside this one), so a round
  // can be disturbed: the bound must hold in one of three rounds, each a
  // baseline and then a storm of faults. A broker slowed by the faults
  // themselves fails all three.
  const EACH = 6
  const total = all.length * EACH
  const storm = await open()
  const rounds: Array<{ during: number; bound: number; text: string }> = []
  for (let round = 1; round <= 3; round++) {
    const baseline = await sample(1000)
    // Six events for each failing target: about two seconds of spinning
    // workers, eighteen worker exits and over a hundred failed attempts.
    const before = letters.messages.length
    for (const t of all) for (let i = 0; i < EACH; i++) await storm.publishAsync(`fail/${t.name}`, JSON.stringify({ round, i }), { qos: 1 })
    const during: number[] = []
    let lettersAfter500 = total
    const began = performance.now()
    while (during.length < 500 || (letters.messages.length - before < total && performance.now() - began < 15_000)) {
      during.push(await roundTrip(n++))
      if (during.length === 500) lettersAfter500 = letters.messages.length - before
      await pause()
    }
    const storming = performance.now() - began
    // The faults went on for at least the first 500 samples.
    expect(lettersAfter500).toBeLessThan(total)
    await letters.waitFor((m) => m.length - before === total, 20_000, 'every dead letter of the round')

    const b = percentiles(baseline)
    const d = percentiles(during)
    const bound = Math.max(2 * b.p99, b.p99 + 20)
    rounds.push({ during: d.p99, bound, text: `round ${round}: baseline p50 ${b.p50.toFixed(2)} p99 ${b.p99.toFixed(2)} max ${b.max.toFixed(2)} ms (n=${baseline.length}); during faults p50 ${d.p50.toFixed(2)} p99 ${d.p99.toFixed(2)} max ${d.max.toFixed(2)} ms (n=${during.length}, ${storming.toFixed(0)} ms); bound ${bound.toFixed(2)} ms` })
    if (d.p99 < bound) break
  }
  const report = `ping-pong round trips beside failing functions and targets\n${rounds.map((r) => r.text).join('\n')}`
  console.info(report)
  expect(rounds.at(-1)!.during, report).toBeLessThan(rounds.at(-1)!.bound)
}, 45_000)

function percentiles(samples: number[]): { p50: number; p99: number; max: number } {
  const sorted = [...samples].sort((a, b) => a - b)
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!
  return { p50: at(0.5), p99: at(0.99), max: sorted.at(-1)! }
}
