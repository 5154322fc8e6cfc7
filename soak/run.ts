/**
 * The soak: `npm run soak -- --minutes N [--users 24] [--rate 2]`.
 *
 * Runs `switchyard start` as a user does, with the chat example's rules and
 * functions (messages republished to rooms and stored, the backlog function
 * on join, presence), and drives chat-like traffic for N minutes: users in
 * four rooms, each with a persistent session at QoS 1, sending messages and
 * leaving and coming back every half minute or so. Every minute it prints
 * the broker's RSS, its event-loop delay p99, messages lost so far (not
 * received 30 s after they were sent, the sender's room-mates' sessions
 * being persistent) and dead letters. It fails (exit 1) when a message is
 * lost at the end, or when the RSS keeps growing.
 */
import { spawn } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { fileURLToPath } from 'node:url'
import mqtt, { type MqttClient } from 'mqtt'
import { parse, stringify } from 'yaml'
import { freePort, waitForPort } from '../bench/lib/ports.js'

const ROOT = fileURLToPath(new URL('..', import.meta.url))
const TOKEN = 'soak-admin-token-0123456789'
const ROOMS = ['lobby', 'ops', 'design', 'random']
// A message not received this long after it was sent counts as lost (so far).
const LOST_AFTER_MS = 30_000
// The RSS floor may rise at most this much over the run (see `growth`).
const MAX_GROWTH = 0.1

const { values } = parseArgs({ options: { minutes: { type: 'string', default: '10' }, users: { type: 'string', default: '24' }, rate: { type: 'string', default: '2' } } })
const minutes = Number(values.minutes)
const users = Number(values.users)
const ratePerUser = Number(values.rate)
if (!(minutes > 0) || !(users >= 2) || !(ratePerUser > 0)) {
  console.error('usage: npm run soak -- --minutes N [--users 24] [--rate 2]   (N may be a fraction, users at least 2, rate in messages per second per user)')
  process.exit(2)
}

/** The broker, started from the built bin/ with the chat example's config, in a temp folder. */
async function startBroker(dir: string) {
  const example = parse(readFileSync(join(ROOT, 'switchyard.yaml'), 'utf8')) as Record<string, any>
  const mqttPort = await freePort()
  const httpPort = await freePort()
  const functions = Object.fromEntries(Object.entries(example.functions as Record<string, { module: string }>).map(([name, f]) => [name, { ...f, module: join(ROOT, f.module) }]))
  const config = {
    ...example,
    listen: { mqtt: mqttPort, http: httpPort },
    storage: { sqlite: join(dir, 'switchyard.db') },
    functions,
    admin: { token: TOKEN },
    // Every user is on this machine's loopback address, which counts as one
    // user for the persistent sessions of anonymous clients.
    limits: { sessions: { maxPerUser: 1000 } },
    log: { level: 'warn' },
  }
  writeFileSync(join(dir, 'switchyard.yaml'), stringify(config))
  const child = spawn(process.execPath, [join(ROOT, 'bin/switchyard.js'), 'start', '--config', join(dir, 'switchyard.yaml')], { stdio: ['ignore', 'ignore', 'inherit'] })
  await waitForPort(mqttPort, 30_000, () => (child.exitCode !== null ? `the broker exited (${child.exitCode})` : undefined))
  await waitForPort(httpPort, 30_000, () => undefined)
  return { child, mqttUrl: `mqtt://127.0.0.1:${mqttPort}`, httpUrl: `http://127.0.0.1:${httpPort}` }
}

/** One chat user: a persistent session in one room, sending and receiving, leaving and coming back. */
class User {
  readonly clientId: string
  readonly room: string
  client: MqttClient | undefined
  sent = 0
  reconnects = 0
  readonly received = new Set<string>()

  constructor(readonly index: number, readonly url: string) {
    this.clientId = `chat-soak-${index}`
    this.room = ROOMS[index % ROOMS.length]!
  }

  async connect(): Promise<void> {
    const client = mqtt.connect(this.url, { clientId: this.clientId, clean: false, reconnectPeriod: 1000, connectTimeout: 10_000 })
    client.on('message', (topic, payload) => {
      if (!topic.startsWith('chat/pub/')) return
      const m = JSON.parse(payload.toString()) as { from?: string; seq?: number }
      if (m.from !== undefined) this.received.add(`${m.from}:${m.seq}`)
    })
    await new Promise<void>((resolve, reject) => {
      client.once('connect', () => resolve())
      client.once('error', reject)
    })
    this.client = client
    await client.subscribeAsync([`chat/pub/${this.room}`, `chat/in/${this.clientId}`], { qos: 1 })
    await client.publishAsync('chat/join', JSON.stringify({ room: this.room, name: `user ${this.index}` }), { qos: 1 })
  }

  /** Sends one message; resolves once the broker acknowledged it (from then on it is owed to the room). */
  async say(): Promise<{ key: string; at: number } | undefined> {
    const client = this.client
    if (!client?.connected) return undefined
    const seq = this.sent++
    await client.publishAsync('chat/out', JSON.stringify({ room: this.room, name: `user ${this.index}`, message: `message ${seq} from ${this.clientId}`, from: this.clientId, seq }), { qos: 1 })
    return { key: `${this.clientId}:${seq}`, at: Date.now() }
  }

  /** Leaves for a moment (a closed laptop), then comes back to the same session. */
  async bounce(): Promise<void> {
    const client = this.client
    this.client = undefined
    await client?.endAsync()
    await new Promise((r) => setTimeout(r, 500 + Math.random() * 2000))
    this.reconnects++
    await this.connect()
  }
}

function rssMb(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((l) => l.startsWith('VmRSS:'))
  return Number(line?.split(/\s+/)[1] ?? 0) / 1024
}

async function metric(httpUrl: string, name: string): Promise<number> {
  const text = await (await fetch(`${httpUrl}/metrics`)).text()
  return text.split('\n').filter((l) => l.startsWith(name) && !l.startsWith('#')).reduce((n, l) => n + Number(l.split(' ').pop()), 0)
}

/**
 * How much the broker's memory grew: the lowest RSS in the last third of
 * the run against the lowest in the first third after a warm-up quarter,
 * relative to the latter. Lowest, because RSS rises and falls with the
 * garbage collector (a sawtooth of 20 % within a minute is normal); what a
 * leak raises is the floor it falls back to.
 */
function growth(samples: Array<{ at: number; rssMb: number }>): number {
  const settled = samples.slice(Math.floor(samples.length / 4))
  const third = Math.floor(settled.length / 3)
  if (third < 2) return 0
  const floor = (part: typeof samples) => Math.min(...part.map((p) => p.rssMb))
  const first = floor(settled.slice(0, third))
  return (floor(settled.slice(-third)) - first) / first
}

const dir = mkdtempSync(join(tmpdir(), 'switchyard-soak-'))
const broker = await startBroker(dir)
const pid = broker.child.pid!
const everyone = Array.from({ length: users }, (_, i) => new User(i, broker.mqttUrl))
await Promise.all(everyone.map((u) => u.connect()))

/** Every acknowledged message, by key, with who in its room must receive it. */
const owed = new Map<string, { at: number; to: User[] }>()
const started = Date.now()
const endAt = started + minutes * 60_000
const samples: Array<{ at: number; rssMb: number }> = []
let failed = false

const lostSoFar = (olderThan: number) => {
  let lost = 0
  for (const [key, m] of owed) if (m.at < olderThan) for (const u of m.to) if (!u.received.has(key)) lost++
  return lost
}

// RSS every 5 s, for the growth check; the minute lines show the latest.
const sampler = setInterval(() => samples.push({ at: (Date.now() - started) / 60_000, rssMb: rssMb(pid) }), 5000)

const report = async (final = false) => {
  const rss = rssMb(pid)
  const p99 = (await metric(broker.httpUrl, 'switchyard_nodejs_eventloop_lag_p99_seconds')) * 1000
  const dead = await metric(broker.httpUrl, 'switchyard_dead_letters_total')
  const sent = everyone.reduce((n, u) => n + u.sent, 0)
  const lost = lostSoFar(final ? Date.now() : Date.now() - LOST_AFTER_MS)
  const minute = ((Date.now() - started) / 60_000).toFixed(1)
  console.log(`soak ${minute} min: rss ${rss.toFixed(1)} MB, event-loop p99 ${p99.toFixed(1)} ms, sent ${sent}, lost ${lost}, dead letters ${dead}, reconnects ${everyone.reduce((n, u) => n + u.reconnects, 0)}`)
  return lost
}

// Talking: each user says something about `ratePerUser` times a second; now and then one leaves and comes back.
const talking = everyone.map(async (u) => {
  let nextBounce = Date.now() + 10_000 + Math.random() * 40_000
  while (Date.now() < endAt) {
    const said = await u.say().catch(() => undefined)
    if (said) owed.set(said.key, { at: said.at, to: everyone.filter((o) => o.room === u.room) })
    if (Date.now() > nextBounce) {
      await u.bounce()
      nextBounce = Date.now() + 10_000 + Math.random() * 40_000
    }
    await new Promise((r) => setTimeout(r, (1000 / ratePerUser) * (0.5 + Math.random())))
  }
})
const reportEvery = Math.min(60_000, Math.max(10_000, (minutes * 60_000) / 6))
const reporter = setInterval(() => void report(), reportEvery)
await Promise.all(talking)
clearInterval(reporter)
clearInterval(sampler)

// Everyone stays a while for the last messages, then the tally.
const drainUntil = Date.now() + 15_000
while (Date.now() < drainUntil && lostSoFar(Date.now()) > 0) await new Promise((r) => setTimeout(r, 500))
const lost = await report(true)
const grew = growth(samples)
// RSS floors are comparable only when each third spans a few of the
// collector's cycles (a major one came about every 2 minutes in the chat load).
const judged = minutes >= 10
console.log(`soak done: ${minutes} min, ${owed.size} messages to ${users} users in ${ROOMS.length} rooms, lost ${lost}, RSS floor growth ${(grew * 100).toFixed(1)} % (limit ${MAX_GROWTH * 100} %)${judged ? '' : ', too short a run to judge growth (10 minutes at least)'}`)
if (lost > 0) {
  console.error('soak FAILED: messages were lost')
  failed = true
}
if (judged && grew > MAX_GROWTH) {
  console.error('soak FAILED: the broker\'s memory kept growing')
  failed = true
}

await Promise.all(everyone.map((u) => u.client?.endAsync(true)))
broker.child.kill('SIGTERM')
await new Promise((r) => broker.child.once('exit', r))
rmSync(dir, { recursive: true, force: true })
process.exit(failed ? 1 : 0)
