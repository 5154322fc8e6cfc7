import Database from 'better-sqlite3'
import { appendFileSync, existsSync, readFileSync } from 'node:fs'
import { setTimeout as sleep } from 'node:timers/promises'
import type { PubSubResult } from '../load/job.js'
import type { RunningPeer } from '../peers/peer.js'
import type { BenchCase } from './scenario.js'

type Switchyard = NonNullable<RunningPeer['switchyard']>

// The probe writes its readings every 250 ms: wait at most this long for those of the window's end.
const PROBE_WAIT_MS = 3000

/**
 * The broker's longest event-loop stall inside the measured window, in ms,
 * from its event-loop probe (peers/event-loop-probe.mjs): the periods that
 * ended inside the window count.
 */
async function longestStallMs(sy: Switchyard, result: PubSubResult): Promise<number> {
  const file = sy.eventLoopFile
  if (!file) throw new Error('this Switchyard was started without its event-loop probe (probeEventLoop in its setup)')
  const readings = () => existsSync(file)
    ? readFileSync(file, 'utf8').split('\n').filter(Boolean).map((line) => line.split(' ').map(Number) as [number, number])
    : []
  const until = performance.now() + PROBE_WAIT_MS
  let all = readings()
  while (!all.some(([at]) => at >= result.windowEndedAt) && performance.now() < until) {
    await sleep(100)
    all = readings()
  }
  const inWindow = all.filter(([at]) => at > result.windowStartedAt && at <= result.windowEndedAt)
  if (inWindow.length === 0) throw new Error('the event-loop probe wrote no reading inside the measured window')
  // BENCH_STALL_LOG keeps every period of the window, for tools/stall-periods.ts.
  const log = process.env.BENCH_STALL_LOG
  if (log) appendFileSync(log, `${JSON.stringify({ windowStartedAt: result.windowStartedAt, periods: inWindow.map(([, ms]) => ms) })}\n`)
  return Math.max(...inWindow.map(([, ms]) => ms))
}

/** Reads a count from the broker's SQLite file (WAL: a reader beside the running broker) until it passes `done` or time is up. */
async function countUntil(sqlitePath: string, sql: string, done: (n: number) => boolean, timeoutMs: number): Promise<number> {
  const db = new Database(sqlitePath, { readonly: true, fileMustExist: true })
  try {
    const query = db.prepare(sql).pluck()
    const until = performance.now() + timeoutMs
    for (;;) {
      const n = query.get() as number
      if (done(n) || performance.now() > until) return n
      await sleep(100)
    }
  } finally {
    db.close()
  }
}

/**
 * A publish/subscribe case on a Switchyard whose rule stores every message
 * in `table`, with `storedRowsSql` given: the run fails unless every
 * published message is found in the SQLite file, and reports the rows
 * written per second in the window (read from the file at its start and
 * end) and the longest event-loop stall.
 */
export function storedEvents(c: BenchCase, table: string): BenchCase {
  return withProbes(c, async (sy, result) => {
    const stored = await countUntil(sy.sqlitePath, `SELECT count(*) FROM store_events WHERE tbl = '${table}'`, (n) => n >= result.published, 10_000)
    if (stored < result.published) throw new Error(`${result.published - stored} of ${result.published} events were not stored`)
    if (result.storedInWindow === undefined) throw new Error('the load did not count the rows written in the window (storedRowsSql)')
    // Without subscribers the events found in the file are what was checked.
    const checked = result.expected === 0 ? { expected: result.published, received: Math.min(stored, result.published) } : {}
    return { ...checked, storedPerSecond: result.storedInWindow / result.windowSeconds }
  })
}

/**
 * A publish/subscribe case on a Switchyard whose rule invokes a function for
 * every message, each recorded in the outbox before its PUBACK: the outbox
 * must be empty at the end (every recorded delivery made); reports the
 * deliveries recorded per second (the PUBACKs in the window) and the
 * longest event-loop stall.
 */
export function durableDeliveries(c: BenchCase): BenchCase {
  return withProbes(c, async (sy, result) => {
    const left = await countUntil(sy.sqlitePath, 'SELECT count(*) FROM deliveries', (n) => n === 0, 10_000)
    if (left > 0) throw new Error(`${left} recorded deliveries were never made`)
    return { storedPerSecond: result.publishesPerSecond }
  })
}

/** The stall probe alone. */
export function withStallProbe(c: BenchCase): BenchCase {
  return withProbes(c, async () => ({}))
}

function withProbes(c: BenchCase, after: (sy: Switchyard, result: PubSubResult) => Promise<Partial<PubSubResult>>): BenchCase {
  return {
    ...c,
    async measure(peer, ctx) {
      const sy = peer.switchyard
      if (!sy) throw new Error(`${c.id} runs on Switchyard only`)
      const result = await c.measure(peer, ctx)
      if (result.kind !== 'pubsub') return result
      return { ...result, ...(await after(sy, result)), maxStallMs: await longestStallMs(sy, result) }
    },
  }
}
