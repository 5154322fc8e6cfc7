/**
 * Loaded into a broker with `node --import <this file>` when
 * BENCH_EVENT_LOOP_FILE names a file: measures how long the broker's event
 * loop goes without turning, and appends one line per period to that file,
 *
 *   <end of the period, ms since the epoch> <longest gap in it, ms>
 *
 * so the harness can pick the periods of its measured window (the load
 * generator stamps the window with the same clock).
 *
 * A timer ticks every TICK_MS; the time between two ticks is the stall plus
 * at most one tick. perf_hooks.monitorEventLoopDelay measures the same gap
 * natively, but its reset() (needed to get one maximum per period) forgets
 * the interval in progress, so a stall right after a reset would go unseen;
 * here a gap counts in the period in which it ends, whatever the period.
 * Worker threads (the function pool) load this too and measure nothing.
 */
import { appendFileSync } from 'node:fs'
import { performance } from 'node:perf_hooks'
import { isMainThread } from 'node:worker_threads'

const TICK_MS = 2
const PERIOD_MS = 50
const WRITE_EVERY_MS = 250

const file = process.env.BENCH_EVENT_LOOP_FILE
if (file && isMainThread) {
  let last = performance.now()
  let periodEnd = last + PERIOD_MS
  let longest = 0
  let lines = ''
  setInterval(() => {
    const now = performance.now()
    longest = Math.max(longest, now - last)
    last = now
    if (now >= periodEnd) {
      lines += `${Math.round(performance.timeOrigin + now)} ${longest.toFixed(2)}\n`
      longest = 0
      periodEnd = now + PERIOD_MS
    }
  }, TICK_MS).unref()
  const write = () => {
    if (lines === '') return
    appendFileSync(file, lines)
    lines = ''
  }
  setInterval(write, WRITE_EVERY_MS).unref()
  process.on('exit', write)
}
