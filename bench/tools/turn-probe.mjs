/**
 * Loaded into a Node broker with
 * `BENCH_BROKER_NODE_OPTIONS='--import <abs path of this file>'` and
 * BENCH_TURN_DIR set: writes what the broker's long turns of the event loop
 * were made of to `turns-<pid>.txt` in that folder, one line each,
 *
 *   anchor <performance.timeOrigin, ms since the epoch> <CLOCK_MONOTONIC at performance 0, ms>
 *   gc <start, CLOCK_MONOTONIC ms> <pause, ms> <kind: 1 scavenge, 4 mark-compact, 8 incremental, 16 weak callbacks>
 *   turn <start, CLOCK_MONOTONIC ms> <length, ms> run <main thread on the core, ms> wait <main thread waiting for it, ms> imm <in immediates, ms> | <ms> x<calls> <callback's source> | ...
 *
 * A 1 ms timer marks the turns: a gap of over 7 ms between two of its
 * ticks is a long turn, and its immediates are summed by callback (the
 * first 50 characters of its source), so that the store's commit and the
 * rule queue's slice show apart. `run` and `wait` come from the kernel's
 * schedstat of the main thread. Times are on CLOCK_MONOTONIC, the clock of
 * `perf record -k mono`, so a turn can be matched with the threads that
 * held the core in it (turn-threads.ts); the anchor turns the generator's
 * window (wall clock) into the same clock. Worker threads record nothing.
 *
 * Wrapping every immediate costs the broker a few per cent: compare runs
 * that both load it.
 */
import { appendFileSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { PerformanceObserver, performance } from 'node:perf_hooks'
import { isMainThread } from 'node:worker_threads'

const LONG_MS = 7
const dir = process.env.BENCH_TURN_DIR
if (dir && isMainThread) {
  const file = join(dir, `turns-${process.pid}.txt`)
  const mono = () => Number(process.hrtime.bigint()) / 1e6
  const monoAtZero = mono() - performance.now()
  let lines = `anchor ${performance.timeOrigin.toFixed(1)} ${monoAtZero.toFixed(3)}\n`
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) lines += `gc ${(monoAtZero + e.startTime).toFixed(3)} ${e.duration.toFixed(2)} ${e.detail?.kind ?? 0}\n`
  }).observe({ entryTypes: ['gc'] })

  const schedstat = `/proc/self/task/${process.pid}/schedstat`
  const mainThread = () => readFileSync(schedstat, 'latin1').split(' ').map(Number)

  // Time in immediates this turn, by callback: [ms, calls].
  const immediates = new Map()
  const sourceOf = (fn) => fn.toString().replace(/\s+/g, ' ').slice(0, 50)
  const setImmediate = globalThis.setImmediate
  globalThis.setImmediate = function (callback, ...args) {
    const key = sourceOf(callback)
    return setImmediate(function () {
      const started = performance.now()
      try {
        return callback.apply(this, args)
      } finally {
        const spent = immediates.get(key)
        const ms = performance.now() - started
        if (spent) {
          spent[0] += ms
          spent[1]++
        } else {
          immediates.set(key, [ms, 1])
        }
      }
    })
  }

  let last = performance.now()
  let lastMono = mono()
  let lastSched = mainThread()
  setInterval(() => {
    const now = performance.now()
    const sched = mainThread()
    if (now - last > LONG_MS) {
      let total = 0
      let parts = ''
      for (const [key, [ms, calls]] of immediates) {
        total += ms
        parts += ` | ${ms.toFixed(2)} x${calls} ${key}`
      }
      const ms = (ns) => (ns / 1e6).toFixed(2)
      lines += `turn ${lastMono.toFixed(3)} ${(now - last).toFixed(2)} run ${ms(sched[0] - lastSched[0])} wait ${ms(sched[1] - lastSched[1])} imm ${total.toFixed(2)}${parts}\n`
    }
    immediates.clear()
    last = now
    lastMono = mono()
    lastSched = sched
  }, 1).unref()

  const write = () => {
    if (lines === '') return
    appendFileSync(file, lines)
    lines = ''
  }
  setInterval(write, 250).unref()
  process.on('exit', write)
}
