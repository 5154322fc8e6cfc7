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
  /** The most each of the young generation's two semi-spaces may grow to, in MB (V8: 16), until a worker thread starts (tuneHeap). */
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
 * The first worker thread lifts the bound, for the rest of the process's
 * life. A broker starts one when it writes much to SQLite (the
 * checkpointer: the store action, persistent sessions, the outbox) or runs
 * a function, and those loads keep young objects alive longer: a turn's
 * store batch until its commit, invocations in flight. Held at 8 MB there,
 * the store action lost 12 % of its events a second (bench/LIMITS.md,
 * Memory). V8 would undo the bound at that moment anyway: it sets the
 * growth factor back to 2 whenever it makes an isolate, a worker's too.
 * A broker that only routes messages, the fan-out's and the idle
 * connections', starts none, and keeps the bound.
 */
export function tuneHeap(tuning: HeapTuning = HEAP_TUNING, given = givenFlags()): void {
  if (!given.has('--heap-growing-percent')) setFlagsFromString(`--heap-growing-percent=${tuning.growingPercent}`)
  if (given.has('--max-semi-space-size') || given.has('--semi-space-growth-factor')) return
  const bound = tuning.maxSemiSpaceMb * MB
  let factor = 0
  const govern = () => {
    const next = semiSpaceBytes() * 2 <= bound ? 2 : 1
    if (next === factor) return
    factor = next
    setFlagsFromString(`--semi-space-growth-factor=${next}`)
  }
  govern()
  // A growth needs more bytes to have survived since the last one than the
  // young generation holds: several collections, each of which is seen here.
  const observer = new PerformanceObserver(govern)
  observer.observe({ entryTypes: ['gc'] })
  process.once('worker', () => {
    observer.disconnect()
    setFlagsFromString('--semi-space-growth-factor=2')
  })
}

/**
 * The capacity of one semi-space now. V8 counts the young generation's
 * space as both while both are committed; but when it shrinks the young
 * generation (an isolate allocating slowly, as one starved of CPU does) it
 * also gives back the semi-space not in use, and counts one. Read as half
 * of that, a semi-space of 2.5 MB looked like 1.25, and the factor let it
 * double past the bound: a young generation of 10 or 16 MB under a bound of
 * 4, in some runs of a busy machine. What the semi-space in use can hold
 * (used and available) does not change with the other's commit; it is the
 * capacity less the pages' headers, under 2 % less.
 */
function semiSpaceBytes(): number {
  const space = getHeapSpaceStatistics().find((s) => s.space_name === 'new_space')
  if (!space) return 0
  return Math.max(space.space_size / 2, space.space_used_size + space.space_available_size)
}
