/**
 * How a run's event-loop stalls were spread, beyond the longest one the
 * report gives: with BENCH_STALL_LOG naming a file, the harness appends the
 * longest gap of every 50 ms period of each measured window with a stall
 * probe (the store, the functions and the chat cases); this matches them
 * with the runs in results.json and prints, per run, the quantiles of
 * those periods and how many passed 7 and 10 ms. Two builds' longest stalls alone are too few to compare: a round's
 * maximum is one reading, and the machine's slow phases move it most.
 *
 *   BENCH_STALL_LOG=/tmp/stalls.jsonl npm run bench -- --quick --rounds 8 --only 6 --peers switchyard-store,switchyard-baseline-store --baseline HEAD --out /tmp/b
 *   npx tsx bench/tools/stall-periods.ts /tmp/stalls.jsonl /tmp/b/results.json
 */
import { readFileSync } from 'node:fs'

interface Logged {
  windowStartedAt: number
  periods: number[]
}

interface RawRun {
  result?: { windowStartedAt?: number; maxStallMs?: number; storedPerSecond?: number }
}

const [logFile, resultsFile] = process.argv.slice(2)
if (!logFile || !resultsFile) {
  console.error('usage: stall-periods.ts STALL_LOG results.json')
  process.exit(2)
}

const logged = readFileSync(logFile, 'utf8').split('\n').filter(Boolean).map((line) => JSON.parse(line) as Logged)
const { outcomes } = JSON.parse(readFileSync(resultsFile, 'utf8')) as { outcomes: Array<[string, RawRun[]]> }

const quantile = (sorted: number[], q: number) => sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * q))]!
const totals = new Map<string, { periods: number; over7: number; over10: number }>()
for (const [key, runs] of outcomes) {
  runs.forEach((run, round) => {
    const started = run.result?.windowStartedAt
    const entry = logged.find((l) => l.windowStartedAt === started)
    if (!entry || started === undefined) return
    const sorted = [...entry.periods].sort((a, b) => a - b)
    const over = (ms: number) => sorted.filter((x) => x > ms).length
    const total = totals.get(key) ?? { periods: 0, over7: 0, over10: 0 }
    totals.set(key, { periods: total.periods + sorted.length, over7: total.over7 + over(7), over10: total.over10 + over(10) })
    const rate = run.result?.storedPerSecond
    console.log(`${key} round ${round + 1}: ${sorted.length} periods, p50 ${quantile(sorted, 0.5).toFixed(2)}, p90 ${quantile(sorted, 0.9).toFixed(2)}, p99 ${quantile(sorted, 0.99).toFixed(2)}, max ${sorted.at(-1)!.toFixed(2)} ms; over 7 ms ${over(7)}, over 10 ms ${over(10)}${rate === undefined ? '' : `; ${Math.round(rate)} events/s`}`)
  })
}
for (const [key, t] of totals) console.log(`${key}: ${t.periods} periods, ${t.over7} over 7 ms, ${t.over10} over 10 ms`)
