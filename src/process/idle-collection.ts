import { performance, type EventLoopUtilization } from 'node:perf_hooks'
import { getHeapStatistics, setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'

/** How often the event loop's use and the heap's size are looked at. */
const EVERY_MS = 1000
/** A second in which the event loop was busy less than this is a quiet one. */
const QUIET_UTILIZATION = 0.05
/** The heap must have grown past its size at rest by this share, and by at least MIN_GROWTH_BYTES, to be worth a collection. */
const GROWTH_SHARE = 0.1
const MIN_GROWTH_BYTES = 4 * 1024 * 1024

export interface IdleCollection {
  stop(): void
}

export interface IdleCollectionOptions {
  /** Told of each collection, with the heap's physical size (bytes) before it. */
  collected?: (beforeBytes: number) => void
}

/**
 * Gives back what a load made the heap take, once the load is over. V8
 * collects its old generation when it has grown by a share of what lived
 * after the last collection, and not while nothing is allocated: a broker
 * that goes quiet after a burst keeps its heap at the burst's size until
 * V8's memory reducer runs, which on this machine took 30 to 45 s after
 * the last client left (bench/LIMITS.md, Memory). Here, the first quiet
 * second in which the heap is a tenth (and 4 MB) larger than it was at
 * rest runs one full collection: a pause of some milliseconds in which
 * nothing waits, since nothing was happening. Its size at rest is the
 * smallest seen in quiet seconds since the last such collection (or since
 * the start), never one seen under load, where V8's own collections make
 * it dip. The young generation's own space shrinks only once allocation
 * has been low for some seconds, as V8 then decides by itself.
 *
 * The collector is V8's `gc()`, which Node.js gives only with
 * `--expose-gc`: the flag is set now, and the function taken from a new
 * context (which costs 140 KB), so nothing else sees a global `gc`.
 */
export function collectWhenIdle(options: IdleCollectionOptions = {}): IdleCollection {
  setFlagsFromString('--expose-gc')
  const gc = runInNewContext('gc') as () => void
  let last: EventLoopUtilization = performance.eventLoopUtilization()
  let atRest = getHeapStatistics().total_physical_size
  const timer = setInterval(() => {
    const now = performance.eventLoopUtilization()
    const { utilization } = performance.eventLoopUtilization(now, last)
    last = now
    if (utilization >= QUIET_UTILIZATION) return
    const physical = getHeapStatistics().total_physical_size
    const grown = physical - atRest
    if (grown < MIN_GROWTH_BYTES || grown < atRest * GROWTH_SHARE) {
      atRest = Math.min(atRest, physical)
      return
    }
    gc()
    // The pages freed are given back over the next moments: the next quiet look sets the size at rest.
    atRest = Number.POSITIVE_INFINITY
    options.collected?.(physical)
  }, EVERY_MS)
  timer.unref()
  return { stop: () => clearInterval(timer) }
}
