import { appendFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { PerformanceObserver, performance, type PerformanceEntry } from 'node:perf_hooks'

/** Slots of the latency timeline, in ms. */
const SLOT_MS = 5
/** Gaps between ticks of a 1 ms timer longer than this are noted. */
const GAP_MS = 3

const wallMs = (at: number) => performance.timeOrigin + at

/**
 * With BENCH_TRACE_DIR set, what a latency tail can be traced back to, from
 * the generator's side: for each 5 ms slot of the measured window (by wall
 * clock, the clock bench/tools/tail-probe.mjs stamps the broker's garbage
 * collections and stalls with) the deliveries that arrived and the longest
 * latency among them, the generator's own garbage collections and event-loop
 * gaps (each with the CPU time the generator had in it: far less than the
 * gap is time it waited for its core), and the histogram's upper quantiles. Written as
 * `latency-<broker pid>.json` at the end of the run.
 */
export class TailTrace {
  readonly #slots = new Map<number, { count: number; maxUs: number; sumUs: number }>()
  readonly #gcs: Array<[number, number, number]> = []
  readonly #gaps: Array<[number, number, number]> = []
  #observer: PerformanceObserver | undefined
  #ticker: NodeJS.Timeout | undefined

  private constructor(readonly file: string) {}

  static fromEnvironment(brokerPid: number): TailTrace | undefined {
    const dir = process.env.BENCH_TRACE_DIR
    return dir ? new TailTrace(join(dir, `latency-${brokerPid}.json`)) : undefined
  }

  start(): void {
    this.#observer = new PerformanceObserver((list) => {
      for (const e of list.getEntries() as Array<PerformanceEntry & { detail?: { kind?: number } }>) this.#gcs.push([Math.round(wallMs(e.startTime) * 10) / 10, Math.round(e.duration * 100) / 100, e.detail?.kind ?? 0])
    })
    this.#observer.observe({ entryTypes: ['gc'] })
    let last = performance.now()
    let lastCpu = process.cpuUsage()
    this.#ticker = setInterval(() => {
      const now = performance.now()
      const cpu = process.cpuUsage()
      if (now - last > GAP_MS) this.#gaps.push([Math.round(wallMs(last)), Math.round((now - last) * 100) / 100, Math.round((cpu.user + cpu.system - lastCpu.user - lastCpu.system) / 10) / 100])
      last = now
      lastCpu = cpu
    }, 1)
  }

  /** One delivery's latency, at `nowNs` (performance.now() in ns). */
  record(latencyNs: number, nowNs: number): void {
    const slot = Math.floor(wallMs(nowNs / 1e6) / SLOT_MS) * SLOT_MS
    const us = latencyNs / 1000
    const s = this.#slots.get(slot)
    if (s) {
      s.count++
      s.sumUs += us
      if (us > s.maxUs) s.maxUs = us
    } else {
      this.#slots.set(slot, { count: 1, maxUs: us, sumUs: us })
    }
  }

  write(summary: Record<string, unknown>): void {
    this.#observer?.disconnect()
    clearInterval(this.#ticker)
    const slots = [...this.#slots].map(([at, s]) => [at, s.count, Math.round(s.maxUs), Math.round(s.sumUs / s.count)])
    writeFileSync(this.file, JSON.stringify({ ...summary, slotMs: SLOT_MS, slots, generatorGcs: this.#gcs, generatorGaps: this.#gaps }))
  }
}

/** Appends a line to the trace directory's index, to tell the files of a run apart. */
export function noteTrace(line: string): void {
  const dir = process.env.BENCH_TRACE_DIR
  if (dir) appendFileSync(join(dir, 'index.txt'), `${line}\n`)
}
