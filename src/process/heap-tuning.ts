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
 * That is a soft bound. V8 takes 2 as the factor's least value (a factor
 * of 1 on the command line is read as 2), and where nearly everything
 * young survives it still doubles the young generation past the bound: a
 * storm of connections, the store action's bursts. There the semi-spaces
 * reach V8's own 16 MB. A hard bound (`--max-semi-space-size=8` on the
 * command line) held them at 8 MB and took 4 to 5 KB of RSS off each of
 * 3,000 idle connections, but cost the store action 10 to 14 % of its
 * events a second (bench/LIMITS.md, Memory); so it is left to the
 * operator.
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
  new PerformanceObserver(govern).observe({ entryTypes: ['gc'] })
}

/** The capacity of one semi-space now: V8 counts the young generation's space as both. */
function semiSpaceBytes(): number {
  const space = getHeapSpaceStatistics().find((s) => s.space_name === 'new_space')
  return (space?.space_size ?? 0) / 2
}
