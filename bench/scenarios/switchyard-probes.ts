import Database from 'better-sqlite3'
import { setTimeout as sleep } from 'node:timers/promises'
import type { PubSubResult } from '../load/job.js'
import type { RunningPeer } from '../peers/peer.js'
import type { BenchCase } from './scenario.js'

type Switchyard = NonNullable<RunningPeer['switchyard']>

/**
 * The longest event-loop stall since the last call, in ms, from the
 * broker's own /metrics: prom-client's monitorEventLoopDelay histogram is
 * reset at every scrape, so a scrape before a run and one after it bound it.
 */
async function eventLoopMaxMs(sy: Switchyard): Promise<number> {
  const text = await (await fetch(`${sy.httpUrl}/metrics`, { signal: AbortSignal.timeout(10_000) })).text()
  const line = text.split('\n').find((l) => l.startsWith('switchyard_nodejs_eventloop_lag_max_seconds '))
  if (!line) throw new Error('the broker reports no switchyard_nodejs_eventloop_lag_max_seconds')
  return Number(line.split(' ')[1]) * 1000
}

/** Reads a count from the broker's SQLite file (WAL: a reader beside the running broker) until it reaches `want` or time is up. */
async function countUntil(sqlitePath: string, sql: string, want: (n: number) => boolean, timeoutMs: number): Promise<number> {
  const db = new Database(sqlitePath, { readonly: true, fileMustExist: true })
  try {
    const query = db.prepare(sql).pluck()
    const until = performance.now() + timeoutMs
    for (;;) {
      const n = query.get() as number
      if (want(n) || performance.now() > until) return n
      await sleep(100)
    }
  } finally {
    db.close()
  }
}

/**
 * A publish/subscribe case on a Switchyard whose rule stores every message:
 * the run fails unless every published message is found in the SQLite
 * file, and reports the events written per second (the publish rate, then)
 * and the longest event-loop stall.
 */
export function storedEvents(c: BenchCase, table: string): BenchCase {
  return withProbes(c, async (sy, result) => {
    const stored = await countUntil(sy.sqlitePath, `SELECT count(*) FROM store_events WHERE tbl = '${table}'`, (n) => n >= result.published, 10_000)
    if (stored < result.published) throw new Error(`${result.published - stored} of ${result.published} events were not stored`)
    return { storedPerSecond: result.publishesPerSecond }
  })
}

/**
 * A publish/subscribe case on a Switchyard whose rule invokes a function for
 * every message: the outbox must be empty at the end (every recorded
 * delivery made); reports deliveries recorded per second and the longest
 * event-loop stall.
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
      // The longest stall in the measured window: /metrics is read every
      // POLL_MS (each read starts a new maximum), and the reads that cover
      // only the window count. Starting the generator and its connections
      // (before its warm-up ends) is left out.
      await eventLoopMaxMs(sy)
      const started = performance.now()
      const samples: Array<{ from: number; to: number; maxMs: number }> = []
      let polling = true
      const poll = (async () => {
        let from = performance.now()
        while (polling) {
          await sleep(POLL_MS)
          const maxMs = await eventLoopMaxMs(sy)
          const to = performance.now()
          samples.push({ from, to, maxMs })
          from = to
        }
      })()
      let result
      try {
        result = await c.measure(peer, ctx)
      } finally {
        polling = false
        await poll
      }
      if (result.kind !== 'pubsub') return result
      const windowFrom = started + GENERATOR_START_MS + ctx.mode.warmupMs
      const windowTo = windowFrom + ctx.mode.measureMs
      const inWindow = samples.filter((s) => s.from >= windowFrom && s.to <= windowTo)
      if (inWindow.length === 0) throw new Error('no event-loop reading fell inside the measured window')
      const maxStallMs = Math.max(...inWindow.map((s) => s.maxMs))
      return { ...result, ...(await after(sy, result)), maxStallMs }
    },
  }
}

const POLL_MS = 250
// Starting the generator process and opening its connections, before its warm-up begins.
const GENERATOR_START_MS = 1000
