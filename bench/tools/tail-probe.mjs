/**
 * Loaded into a Node broker with
 * `BENCH_BROKER_NODE_OPTIONS='--import <abs path of this file>'` and
 * BENCH_TRACE_DIR set: appends the broker's garbage collections and its
 * event-loop gaps (a 1 ms timer late by more than 3 ms) to
 * `gc-<pid>.txt` in that folder, one per line,
 *
 *   gc <start, ms since the epoch> <pause, ms> <kind: 1 scavenge, 4 mark-compact, 8 incremental, 16 weak callbacks>
 *   gap <start, ms since the epoch> <length, ms> <CPU time of the process in it, ms> <of its main thread, ms> <the main thread's wait for the core, ms>
 *   threads <ms since the epoch> <tid>:<name>:<CPU time so far, in 10 ms ticks> ...   (every 250 ms)
 *
 * stamped with the wall clock that the load generator's latency timeline
 * (load/tail-trace.ts) uses, so that a latency spike can be matched with
 * what the broker was doing then. A gap in which the process had the core
 * for about as long as the gap was a long turn (or a collection); one in
 * which it had it for far less, time the process waited for the core: the
 * machine's other processes. Worker threads record nothing.
 */
import { appendFileSync, readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { PerformanceObserver, performance } from 'node:perf_hooks'
import { isMainThread } from 'node:worker_threads'

const dir = process.env.BENCH_TRACE_DIR
if (dir && isMainThread) {
  const file = join(dir, `gc-${process.pid}.txt`)
  const wall = (at) => (performance.timeOrigin + at).toFixed(1)
  let lines = ''
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) lines += `gc ${wall(e.startTime)} ${e.duration.toFixed(2)} ${e.detail?.kind ?? 0}\n`
  }).observe({ entryTypes: ['gc'] })
  // The main thread's time on the core and waiting for it, in ns (the
  // kernel's schedstat); the process's CPU time counts V8's helper threads too.
  const schedstat = `/proc/self/task/${process.pid}/schedstat`
  const mainThread = () => readFileSync(schedstat, 'latin1').split(' ').map(Number)
  let last = performance.now()
  let lastCpu = process.cpuUsage()
  let lastMain = mainThread()
  setInterval(() => {
    const now = performance.now()
    const cpu = process.cpuUsage()
    const main = mainThread()
    if (now - last > 3) {
      const ms = (ns) => (ns / 1e6).toFixed(2)
      lines += `gap ${wall(last)} ${(now - last).toFixed(2)} ${((cpu.user + cpu.system - lastCpu.user - lastCpu.system) / 1000).toFixed(2)} ${ms(main[0] - lastMain[0])} ${ms(main[1] - lastMain[1])}\n`
    }
    last = now
    lastCpu = cpu
    lastMain = main
  }, 1).unref()
  const write = () => {
    if (lines === '') return
    appendFileSync(file, lines)
    lines = ''
  }
  // Every 250 ms, each thread's CPU time so far (utime + stime, in clock ticks of 10 ms) by name.
  const threads = () => {
    let line = `threads ${Date.now()}`
    for (const tid of readdirSync('/proc/self/task')) {
      try {
        const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'latin1')
        const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')).replace(/\s+/g, '_')
        const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
        line += ` ${tid}:${name}:${Number(fields[11]) + Number(fields[12])}`
      } catch {
        // The thread ended between the listing and the read.
      }
    }
    lines += `${line}\n`
  }
  setInterval(() => (threads(), write()), 250).unref()
  process.on('exit', write)
}
