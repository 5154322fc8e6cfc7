import Database from 'better-sqlite3'
import { performance } from 'node:perf_hooks'
import { setTimeout as sleep } from 'node:timers/promises'
import type { IPublishPacket } from 'mqtt-packet'
import { cpuTimes, cpuTimesWithChildren, machineBusySeconds, rssKb, syscalls } from '../lib/proc-stats.js'
import { DeliveryTracker } from './delivery-tracker.js'
import type { BrokerProcess, MemoryFigures, ProcessFigures, PubSubJob, PubSubResult } from './job.js'
import { MqttConnection } from './mqtt-connection.js'
import { readSentNs } from './payload.js'
import { Publisher } from './publisher.js'
import { RssSampler } from './rss-sampler.js'
import { TailTrace } from './tail-trace.js'

const nowNs = () => Math.round(performance.now() * 1e6)
const range = (n: number) => Array.from({ length: n }, (_, i) => i)

interface Snapshot {
  at: number
  /** The same moment in ms since the epoch, the clock the broker's own readings use. */
  wallClock: number
  /** Per broker process, in the job's order. */
  brokerCpu: Array<{ user: number; system: number }>
  brokerSyscalls: Array<{ reads: number; writes: number }>
  machineBusy: number
  ownCpu: NodeJS.CpuUsage
  deliveries: number
  published: number
  stored: number
}

const brokerCpu = (p: BrokerProcess) => (p.children ? cpuTimesWithChildren(p.pid) : cpuTimes(p.pid))
const total = <K extends string>(parts: Array<Record<K, number>>, key: K) => parts.reduce((n, part) => n + part[key], 0)

/** Reads the job's count of stored rows from the broker's SQLite file; 0 without one. */
function storedRowsReader(job: PubSubJob): { read(): number; close(): void } {
  if (!job.storedRows) return { read: () => 0, close: () => {} }
  const db = new Database(job.storedRows.sqlitePath, { readonly: true, fileMustExist: true })
  const query = db.prepare(job.storedRows.sql).pluck()
  return { read: () => Number(query.get() ?? 0), close: () => db.close() }
}

/**
 * Publishers to subscribers over raw MQTT: a warm-up, a measured window, then
 * publishing stops and every message is waited for, so that none is lost
 * unnoticed.
 *
 * Each publisher keeps two windows: QoS 1 publishes without a PUBACK, and
 * messages not yet received by every subscriber. The second bounds the
 * broker's queues (for QoS 0 too), so a saturated run measures the broker's
 * steady state rather than how fast it can buffer.
 */
export async function runPubSub(job: PubSubJob): Promise<PubSubResult> {
  const tracker = new DeliveryTracker(job.publishers, job.subscribers, job.unordered !== true)
  const subscribers = await Promise.all(range(job.subscribers).map((i) => MqttConnection.open(job.subscribePort, `bench-sub-${i}`)))
  await Promise.all(subscribers.map((s) => s.subscribe(job.filter, job.qos)))

  let stopped = false
  const saturate = job.ratePerSecond === undefined
  const dirty: Publisher[] = []
  let pumpScheduled = false

  const pingEvery = job.subscribers === 0 ? Math.max(1, Math.floor(job.maxUndelivered / 4)) : undefined
  const room = (p: Publisher): number => {
    const undelivered = pingEvery
      ? p.sent - p.confirmed
      : Math.ceil((p.sent * job.subscribers - tracker.deliveredFrom[p.index]!) / job.subscribers)
    const byDelivery = job.maxUndelivered - undelivered
    return job.qos ? Math.min(byDelivery, job.maxUnacked - p.unacked) : byDelivery
  }
  const pump = () => {
    pumpScheduled = false
    const now = nowNs()
    for (const p of dirty.splice(0)) {
      p.queued = false
      if (!stopped) p.send(room(p), now)
    }
  }
  // Acks and deliveries only mark a publisher; one pump per event-loop turn
  // then sends what the windows allow, in one write per publisher.
  const wake = (p: Publisher) => {
    if (!saturate || p.queued) return
    p.queued = true
    dirty.push(p)
    if (!pumpScheduled) {
      pumpScheduled = true
      setImmediate(pump)
    }
  }

  const connections = await Promise.all(range(job.publishers).map((i) => MqttConnection.open(job.publishPort, `bench-pub-${i}`)))
  const publishers = connections.map((c, i) => new Publisher(i, c, job.qos, job.payloadBytes, wake, { topic: job.publishTopic, members: job.payloadMembers, pingEvery }))
  const confirmed = () => publishers.reduce((n, p) => n + p.confirmed, 0)
  const storedRows = storedRowsReader(job)
  const puback = Buffer.from([0x40, 0x02, 0, 0])
  const trace = TailTrace.fromEnvironment(job.broker[0]!.pid)
  trace?.start()
  subscribers.forEach((connection, s) => {
    connection.onPacket((packet) => {
      if (packet.cmd !== 'publish') return
      const publish = packet as IPublishPacket
      if (publish.qos === 1) {
        const ack = Buffer.from(puback)
        ack.writeUInt16BE(publish.messageId!, 2)
        connection.write(ack)
      }
      const now = nowNs()
      const from = tracker.record(s, publish.payload as Buffer, now)
      if (trace && tracker.measuring) trace.record(now - readSentNs(publish.payload as Buffer), now)
      wake(publishers[from]!)
    })
  })

  // Without subscribers, what the broker has taken in stands for what it delivered.
  const snapshot = (): Snapshot => ({
    at: performance.now(),
    wallClock: Date.now(),
    brokerCpu: job.broker.map(brokerCpu),
    brokerSyscalls: job.broker.map((p) => syscalls(p.pid)),
    machineBusy: machineBusySeconds(),
    ownCpu: process.cpuUsage(),
    deliveries: pingEvery ? confirmed() : tracker.deliveries,
    published: publishers.reduce((n, p) => n + p.sent, 0),
    stored: storedRows.read(),
  })

  const memory = job.memory && new RssSampler(job.broker.map((p) => p.pid))
  const idleKb = memory?.read()
  memory?.start(job.memory!.sampleMs)
  const started = performance.now()
  let pacer: NodeJS.Timeout | undefined
  if (saturate) {
    publishers.forEach(wake)
  } else {
    const perPublisher = job.ratePerSecond! / job.publishers
    // A 1 ms timer is as fine as Node's timers go; each tick sends what is owed.
    pacer = setInterval(() => {
      const elapsed = (performance.now() - started) / 1000
      const now = nowNs()
      for (const p of publishers) {
        const owed = Math.floor(perPublisher * elapsed) - p.sent
        p.send(Math.min(owed, room(p)), now)
      }
    }, 1)
  }

  await sleep(job.warmupMs)
  const first = snapshot()
  tracker.measuring = true
  await sleep(job.measureMs)
  tracker.measuring = false
  const last = snapshot()
  const rss = job.broker.map((p) => rssKb(p.pid))
  const peakKb = memory?.stop()
  stopped = true
  if (pacer) clearInterval(pacer)

  const published = publishers.reduce((n, p) => n + p.sent, 0)
  const expected = published * job.subscribers
  const drainUntil = performance.now() + job.drainMs
  for (const p of pingEvery ? publishers : []) p.ping()
  const waiting = () => tracker.received < expected || publishers.some((p) => p.unacked > 0 || (pingEvery !== undefined && p.confirmed < p.sent))
  while (waiting() && performance.now() < drainUntil) {
    const broken = [...subscribers, ...connections].find((c) => c.error)
    if (broken) break
    await sleep(20)
  }
  const broken = [...subscribers, ...connections].find((c) => c.error)
  trace?.write({
    qos: job.qos, subscribers: job.subscribers, ratePerSecond: job.ratePerSecond, window: [first.wallClock, last.wallClock],
    quantilesMs: Object.fromEntries([0.5, 0.9, 0.99, 0.999, 1].map((q) => [q, tracker.latency.quantileMs(q)])),
  })
  for (const c of [...connections, ...subscribers]) c.close()
  storedRows.close()
  if (broken) throw new Error(`a connection broke during the run: ${broken.error!.message}`)
  const unconfirmed = pingEvery ? published - confirmed() : 0
  if (unconfirmed > 0) throw new Error(`the broker did not take in ${unconfirmed} of ${published} publishes within ${job.drainMs} ms`)
  let memoryFigures: MemoryFigures | undefined
  if (memory) {
    await sleep(job.memory!.settleMs)
    memoryFigures = { idleKb: idleKb!, peakKb: peakKb!, afterKb: memory.read(), settleMs: job.memory!.settleMs }
  }

  const windowSeconds = (last.at - first.at) / 1000
  const deliveriesInWindow = last.deliveries - first.deliveries
  const cpuOf = (i: number) => last.brokerCpu[i]!.user + last.brokerCpu[i]!.system - first.brokerCpu[i]!.user - first.brokerCpu[i]!.system
  const writesOf = (i: number) => last.brokerSyscalls[i]!.writes - first.brokerSyscalls[i]!.writes
  const brokerCpuSeconds = total(last.brokerCpu, 'user') + total(last.brokerCpu, 'system') - total(first.brokerCpu, 'user') - total(first.brokerCpu, 'system')
  const brokerSystemSeconds = total(last.brokerCpu, 'system') - total(first.brokerCpu, 'system')
  const processes: ProcessFigures[] = job.broker.map((p, i) => ({
    name: p.name,
    cpuUsPerDelivery: deliveriesInWindow > 0 ? (cpuOf(i) * 1e6) / deliveriesInWindow : Number.NaN,
    cpuPercent: (cpuOf(i) / windowSeconds) * 100,
    writesPerDelivery: writesOf(i) / deliveriesInWindow,
    rssKb: rss[i]!,
  }))
  const ownCpuUs = last.ownCpu.user + last.ownCpu.system - first.ownCpu.user - first.ownCpu.system
  const publishesInWindow = last.published - first.published
  return {
    kind: 'pubsub',
    published,
    expected,
    received: tracker.received,
    lost: expected - tracker.received,
    duplicates: tracker.duplicates,
    outOfOrder: tracker.outOfOrder,
    windowSeconds,
    deliveriesInWindow,
    deliveriesPerSecond: deliveriesInWindow / windowSeconds,
    publishesPerSecond: publishesInWindow / windowSeconds,
    brokerCpuSeconds,
    brokerCpuUsPerDelivery: deliveriesInWindow > 0 ? (brokerCpuSeconds * 1e6) / deliveriesInWindow : Number.NaN,
    brokerCpuPercent: (brokerCpuSeconds / windowSeconds) * 100,
    brokerSystemPercent: brokerCpuSeconds > 0 ? (brokerSystemSeconds / brokerCpuSeconds) * 100 : Number.NaN,
    brokerReadsPerDelivery: (total(last.brokerSyscalls, 'reads') - total(first.brokerSyscalls, 'reads')) / deliveriesInWindow,
    brokerWritesPerDelivery: (total(last.brokerSyscalls, 'writes') - total(first.brokerSyscalls, 'writes')) / deliveriesInWindow,
    generatorCpuPercent: (ownCpuUs / 1e6 / windowSeconds) * 100,
    otherCpuPercent: Math.max(0, ((last.machineBusy - first.machineBusy - brokerCpuSeconds - ownCpuUs / 1e6) / windowSeconds) * 100),
    latencyP50Ms: tracker.latency.quantileMs(0.5),
    latencyP99Ms: tracker.latency.quantileMs(0.99),
    brokerRssKb: rss.reduce((a, b) => a + b, 0),
    fellBehind: !saturate && publishesInWindow < 0.97 * job.ratePerSecond! * windowSeconds,
    windowStartedAt: first.wallClock,
    windowEndedAt: last.wallClock,
    ...(job.storedRows ? { storedInWindow: last.stored - first.stored } : {}),
    ...(processes.length > 1 ? { processes } : {}),
    ...(memoryFigures ? { memory: memoryFigures } : {}),
  }
}
