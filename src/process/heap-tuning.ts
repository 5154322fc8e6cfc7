import { PerformanceObserver } from 'node:perf_hooks'
import { getHeapSpaceStatistics, setFlagsFromString } from 'node:v8'
import { givenFlags } from './given-flags.js'

/**
 * How the broker's process sizes its JavaScript heap. V8's defaults suit a
 * short program that allocates fast: under the saturated fan-out of the
 * benchmark (scenario 1) the young generation grew to its 32 MB limit, and
 * the old generation to four times what survived its last mark-compact
 * (32 MB live, collected at 128 MB: `--trace-gc`) before V8 collected it,
 * so the broker's RSS swung between 150 and 230 MB where its live data was
 * 45 MB (bench/LIMITS.md, Memory).
 */
export interface HeapTuning {
  /**
   * The old generation may grow to (1 + this / 100) times what survived
   * the last mark-compact before the next one starts; V8 picks 1.1 to 4
   * from its own speed measurements unless told.
   */
  growingPercent: number
  /** The most each of the young generation's two semi-spaces may grow to, in MB (V8: 16); a soft bound (tuneHeap). */
  maxSemiSpaceMb: number
}

/** The figures measured best for memory against CPU per delivery (bench/LIMITS.md, Memory). */
export const HEAP_TUNING: HeapTuning = { growingPercent: 30, maxSemiSpaceMb: 8 }

const MB = 1024 * 1024

/**
 * Applies `tuning` to this process, unless its command line or NODE_OPTIONS
 * already sets the same thing (an operator's choice wins). To be called
 * before anything else is loaded: the young generation grows as the
 * program's modules are loaded, and does not shrink again until V8 decides
 * the process is idle.
 *
 * `--heap-growing-percent` is read by V8 at each mark-compact, so setting it
 * now takes effect. `--max-semi-space-size` is not: V8 reads it once, when
 * the heap is made, before any JavaScript runs. What V8 does read each
 * time it grows the young generation is `--semi-space-growth-factor` (each
 * growth doubles it, from 1 MB); so after every collection the factor is
 * set to 2 while a doubling stays within the bound, and to 1, no growth,
 * once it would not.
 *
 * V8 also sets the factor back to 2 each time it makes an isolate: every
 * worker thread (a function's, the checkpointer's) undoes the bound, and
 * the next collections double the young generation. So the factor is set
 * again after every collection while the bound holds, and on every turn of
 * the event loop from a worker's start until it comes online. Before that was done, a storm of 3,000 connections on a
 * broker whose function threads had started took the semi-spaces from 8
 * to 16 MB, 4 KB of RSS per connection (bench/LIMITS.md, Memory).
 *
 * The bound holds between turns, not within one: a collection in the same
 * turn as a worker makes its isolate may still double the young generation.
 */
export function tuneHeap(tuning: HeapTuning = HEAP_TUNING, given = givenFlags()): void {
  if (!given.has('--heap-growing-percent')) setFlagsFromString(`--heap-growing-percent=${tuning.growingPercent}`)
  if (given.has('--max-semi-space-size') || given.has('--semi-space-growth-factor')) return
  const bound = tuning.maxSemiSpaceMb * MB
  let factor = 0
  const govern = () => {
    const next = semiSpaceBytes() * 2 <= bound ? 2 : 1
    // V8 only ever puts the factor back to 2, so a 2 need not be set again.
    if (next === 2 && factor === 2) return
    factor = next
    setFlagsFromString(`--semi-space-growth-factor=${next}`)
  }
  govern()
  // A growth needs more bytes to have survived since the last one than the
  // young generation holds: several collections, each of which is seen here.
  new PerformanceObserver(govern).observe({ entryTypes: ['gc'] })
  // A worker makes its isolate at some moment before it comes online; under
  // load that can be a tenth of a second later, time for several
  // collections. Until then the factor is set again on every turn.
  process.on('worker', (worker) => {
    let started = false
    const settle = () => {
      started = true
      govern()
    }
    worker.once('online', settle).once('exit', settle)
    const again = () => {
      if (started) return
      govern()
      setImmediate(again).unref()
    }
    again()
  })
}

/** The capacity of one semi-space now: V8 counts the young generation's space as both. */
function semiSpaceBytes(): number {
  const space = getHeapSpaceStatistics().find((s) => s.space_name === 'new_space')
  return (space?.space_size ?? 0) / 2
}
