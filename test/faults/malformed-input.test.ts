import { randomUUID } from 'node:crypto'
import { connect as connectTcp } from 'node:net'
import mqttPacket from 'mqtt-packet'
import { beforeEach, describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import type { TestApp } from '../helpers/app.js'
import { metricsText } from '../helpers/metrics.js'
import { end, Inbox } from '../helpers/mqtt.js'
import { useApp } from '../helpers/use-app.js'
import { waitUntil } from '../helpers/wait.js'
import { sendRawUntilClosed } from '../helpers/raw.js'
import { BAD_UTF8, CASE_KINDS, fuzzCases, prng, rawPublish, willQos3Connect, type FuzzCase } from './mqtt-fuzz.js'

// Thousands of malformed MQTT streams, over TCP and WebSocket at once, while
// well-behaved clients go on talking through the same broker. The cases come
// from a seed: SWITCHYARD_FUZZ_SEED=<seed> runs the same ones again.

const SEED = Number(process.env.SWITCHYARD_FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 31))
const TCP_CASES = Number(process.env.SWITCHYARD_FUZZ_TCP ?? 3000)
const WS_CASES = Number(process.env.SWITCHYARD_FUZZ_WS ?? 1000)
const TCP_ATTACKERS = 24
const WS_ATTACKERS = 8
// How long the broker may take to close a connection it must close.
const CLOSE_WITHIN_MS = 5000
// The most a well-behaved client's message may take to arrive, fuzzing or not.
const LATENCY_BOUND_MS = 2000

const f = useApp()
let t: TestApp
beforeEach(async () => {
  t = await f.start()
})

interface Outcome {
  closedByServer: boolean
  ms: number
}

/** Sends one case on a raw TCP socket; resolves once the connection is closed, or rejects when the broker keeps it. */
function attackTcp(port: number, c: FuzzCase, rng: () => number): Promise<Outcome> {
  return new Promise((resolve, reject) => {
    const started = performance.now()
    let clientEnded = false
    const socket = connectTcp(port, '127.0.0.1')
    socket.on('error', () => {})
    socket.on('data', () => {})
    const timer = setTimeout(() => {
      socket.destroy()
      reject(new Error(`${c.kind} over TCP: the broker kept the connection open ${CLOSE_WITHIN_MS} ms${clientEnded ? ' after the client ended it' : ''}; stream ${c.stream.toString('hex').slice(0, 200)}`))
    }, CLOSE_WITHIN_MS)
    socket.on('close', () => {
      clearTimeout(timer)
      resolve({ closedByServer: !clientEnded, ms: performance.now() - started })
    })
    socket.once('connect', () => {
      for (const chunk of chunks(c.stream, rng)) socket.write(chunk)
      if (c.expect === 'any') {
        clientEnded = true
        socket.end()
      }
    })
  })
}

/** The same over MQTT over WebSocket: the stream split over binary frames, now and then a text frame. */
function attackWs(url: string, c: FuzzCase, rng: () => number): Promise<Outcome> {
  return new Promise((resolve, reject) => {
    const started = performance.now()
    let clientEnded = false
    const ws = new WebSocket(url, 'mqtt')
    ws.on('error', () => {})
    const timer = setTimeout(() => {
      ws.terminate()
      reject(new Error(`${c.kind} over WebSocket: the broker kept the connection open ${CLOSE_WITHIN_MS} ms${clientEnded ? ' after the client closed it' : ''}; stream ${c.stream.toString('hex').slice(0, 200)}`))
    }, CLOSE_WITHIN_MS)
    ws.on('close', () => {
      clearTimeout(timer)
      resolve({ closedByServer: !clientEnded, ms: performance.now() - started })
    })
    ws.on('open', () => {
      for (const chunk of chunks(c.stream, rng)) ws.send(chunk, { binary: rng() < 0.9 })
      if (c.expect === 'any') {
        clientEnded = true
        ws.close()
      }
    })
  })
}

/** The stream cut at up to two random places, so that packets also arrive in pieces. */
function chunks(stream: Buffer, rng: () => number): Buffer[] {
  if (stream.length < 2 || rng() < 0.5) return [stream]
  const cuts = [Math.floor(rng() * stream.length), Math.floor(rng() * stream.length)].sort((a, b) => a - b)
  return [stream.subarray(0, cuts[0]), stream.subarray(cuts[0], cuts[1]), stream.subarray(cuts[1])].filter((b) => b.length > 0)
}

/** Runs `cases` with `workers` connections at a time; returns every outcome and every failure. */
async function runAll(cases: FuzzCase[], workers: number, attack: (c: FuzzCase, rng: () => number) => Promise<Outcome>, seed: number) {
  const outcomes: Array<Outcome & { kind: string; expect: string }> = []
  const failures: string[] = []
  let next = 0
  await Promise.all(Array.from({ length: workers }, async (_, w) => {
    const rng = prng(seed + w + 1)
    while (next < cases.length) {
      const c = cases[next++]!
      try {
        outcomes.push({ ...(await attack(c, rng)), kind: c.kind, expect: c.expect })
      } catch (err) {
        failures.push((err as Error).message)
      }
    }
  }))
  return { outcomes, failures }
}

/**
 * Two well-behaved MQTT.js clients, one on TCP and one on WebSocket, each
 * publishing numbered QoS 1 messages to the other every 20 ms, and noting
 * how long each took to arrive.
 */
async function conversation() {
  const id = randomUUID()
  const tcp = await f.connect({ clientId: `good-tcp-${id}` })
  const ws = await f.connect(t.wsUrl, { clientId: `good-ws-${id}` })
  const closes: string[] = []
  const latencies: number[] = []
  for (const [name, client] of [['tcp', tcp], ['ws', ws]] as const) {
    client.on('close', () => closes.push(name))
    client.on('message', (_topic, payload) => latencies.push(Date.now() - (JSON.parse(payload.toString()) as { sentAt: number }).sentAt))
  }
  const toTcp = new Inbox(tcp)
  const toWs = new Inbox(ws)
  await tcp.subscribeAsync(`good/${id}/to-tcp`, { qos: 1 })
  await ws.subscribeAsync(`good/${id}/to-ws`, { qos: 1 })
  let sent = 0
  const acks: Array<Promise<unknown>> = []
  const body = (seq: number) => JSON.stringify({ seq, sentAt: Date.now() })
  const timer = setInterval(() => {
    acks.push(ws.publishAsync(`good/${id}/to-tcp`, body(sent), { qos: 1 }), tcp.publishAsync(`good/${id}/to-ws`, body(sent), { qos: 1 }))
    sent++
  }, 20)
  f.defer(() => clearInterval(timer))
  return {
    closes,
    /** Resolves once `n` messages have gone each way. */
    async sentAtLeast(n: number) {
      await waitUntil(() => sent >= n, { timeout: 10_000, what: `${n} messages sent each way` })
    },
    async stop() {
      clearInterval(timer)
      await Promise.all(acks)
      await toTcp.count(sent, 10_000)
      await toWs.count(sent, 10_000)
      const seqs = (inbox: Inbox) => inbox.messages.map((m) => (JSON.parse(m.payload) as { seq: number }).seq)
      return { sent, received: [seqs(toTcp), seqs(toWs)], latencies }
    },
  }
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? NaN
}

describe('malformed MQTT input', () => {
  it(`closes only the offending connections while other clients keep talking (seed ${SEED})`, async () => {
    console.log(`malformed-input: seed ${SEED} (set SWITCHYARD_FUZZ_SEED=${SEED} to run these cases again)`)
    const talk = await conversation()
    const health: number[] = []
    const healthTimer = setInterval(() => {
      fetch(`${t.httpUrl}/healthz`, { signal: AbortSignal.timeout(2000) }).then((r) => health.push(r.status), () => health.push(0))
    }, 100)
    f.defer(() => clearInterval(healthTimer))

    const tcpCases = fuzzCases(SEED, TCP_CASES)
    const wsCases = fuzzCases(SEED ^ 0x5a5a5a5a, WS_CASES)
    const began = performance.now()
    const [tcp, ws] = await Promise.all([
      runAll(tcpCases, TCP_ATTACKERS, (c, rng) => attackTcp(t.addresses.mqtt.port, c, rng), SEED),
      runAll(wsCases, WS_ATTACKERS, (c, rng) => attackWs(t.wsUrl, c, rng), SEED ^ 0x5a5a5a5a),
    ])
    const elapsed = performance.now() - began
    // However fast the attack went, the conversation has had a fair length.
    await talk.sentAtLeast(100)
    clearInterval(healthTimer)
    const { sent, received, latencies } = await talk.stop()

    const packets = [...tcpCases, ...wsCases].reduce((n, c) => n + c.packets, 0)
    const bytes = [...tcpCases, ...wsCases].reduce((n, c) => n + c.stream.length, 0)
    console.log(`malformed-input: ${tcpCases.length + wsCases.length} connections, ${packets} packets, ${bytes} bytes in ${Math.round(elapsed)} ms; well-behaved messages ${sent} each way`)

    expect([...tcp.failures, ...ws.failures], `seed ${SEED}`).toEqual([])
    expect(tcp.outcomes).toHaveLength(tcpCases.length)
    expect(ws.outcomes).toHaveLength(wsCases.length)
    // Every stream that breaks a rule the broker checks was closed by the broker itself.
    const mustClose = [...tcp.outcomes, ...ws.outcomes].filter((o) => o.expect === 'server')
    expect(mustClose.length).toBeGreaterThan(500)
    expect(mustClose.filter((o) => !o.closedByServer)).toEqual([])
    expect(new Set([...tcp.outcomes, ...ws.outcomes].map((o) => o.kind))).toEqual(new Set(CASE_KINDS))

    // The well-behaved clients never lost their connections, and got every message, in order, in time.
    expect(talk.closes).toEqual([])
    for (const seqs of received) expect(seqs).toEqual(Array.from({ length: sent }, (_, i) => i))
    const slowest = Math.max(...latencies)
    console.log(`malformed-input: well-behaved latency median ${percentile(latencies, 0.5)} ms, p99 ${percentile(latencies, 0.99)} ms, max ${slowest} ms`)
    expect(slowest).toBeLessThan(LATENCY_BOUND_MS)
    expect(health.length).toBeGreaterThan(10)
    expect(health.filter((s) => s !== 200)).toEqual([])
    // No malicious connection stayed registered: only the two well-behaved clients remain.
    await waitUntil(() => t.app.broker.aedes.connectedClients, { until: (n) => n === 2, what: 'only the two well-behaved clients registered' })
  }, 60_000)
})

const sendRaw = (bytes: Buffer, endAfter = false) => sendRawUntilClosed(t.addresses.mqtt.port, bytes, endAfter)

const connectPacket = (clientId: string, extra: object = {}) => mqttPacket.generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clientId, clean: true, keepalive: 30, ...extra } as mqttPacket.Packet)

async function connectionsGauge(): Promise<number> {
  const text = await metricsText(t.httpUrl)
  return text.split('\n').filter((l) => l.startsWith('switchyard_mqtt_connections{')).reduce((n, l) => n + Number(l.split(' ').pop()), 0)
}

// Faults of Aedes 1.2 and mqtt-packet, each fixed by a guard in src/broker/.
describe('faults the broker guards against', () => {
  // Fixed by skipClosedRegistrations (src/broker/closed-registrations.ts) in createBroker.
  // The window is the store's write of the will: a client with one that leaves at once.
  it('forgets a client whose connection closed during its CONNECT', async () => {
    const will = { topic: 'wills/brief', payload: Buffer.from('gone'), qos: 1, retain: false }
    await Promise.all(Array.from({ length: 200 }, (_, i) => sendRaw(connectPacket(`brief-${i}`, { will }), true)))
    await f.connect({ clientId: 'stays' })
    await waitUntil(() => t.app.broker.aedes.connectedClients, { until: (n) => n === 1, timeout: 2000, what: 'only the client that stays registered' })
    expect(await connectionsGauge()).toBe(1)
  })

  // Fixed by guardPackets (src/broker/packet-guard.ts) on each connection in listenMqtt and attachWebSocket.
  it('closes a publisher whose topic is not well-formed UTF-8, or holds U+0000 or a control character, and relays nothing of it', async () => {
    const { client: watcher, inbox } = await f.connectWithInbox({ clientId: 'watcher' })
    await watcher.subscribeAsync('#')
    for (const topic of [...BAD_UTF8, [0x61, 0x01], [0x61, 0x7f], [0x61, 0xef, 0xbf, 0xbf]]) {
      await sendRaw(Buffer.concat([connectPacket('bad-topic'), rawPublish(topic)]))
    }
    await watcher.publishAsync('after', 'ok')
    await inbox.on('after', 2000)
    expect(inbox.messages.map((m) => m.topic)).toEqual(['after'])
  })

  // Fixed by guardPackets too: the will is refused with its CONNECT.
  it('keeps a will at QoS 3 from cutting off a persistent subscriber at every reconnect', async () => {
    const keeper = await f.connect({ clientId: 'keeper', clean: false })
    await keeper.subscribeAsync('wills/#', { qos: 2 })
    await end(keeper)
    await sendRaw(willQos3Connect('dropped', 'wills/dropped'))
    const { client: back, inbox } = await f.connectWithInbox({ clientId: 'keeper', clean: false })
    const other = await f.connect()
    await other.publishAsync('wills/other', 'x', { qos: 1 })
    await inbox.on('wills/other', 2000)
    expect(back.connected).toBe(true)
  })
})
