/**
 * Loaded into a broker with `node --import <this file>` when
 * BENCH_MEMORY_FILE names a file: appends one JSON line every
 * BENCH_MEMORY_EVERY_MS (250 unless given) with the clock, the process'
 * memoryUsage() and V8's own account of its heap, space by space (new
 * space, old space, code space, large objects...): what the RSS read from
 * /proc is made of on the JavaScript side. Worker threads load this too and
 * write nothing.
 */
import { appendFileSync } from 'node:fs'
import { getHeapSpaceStatistics, getHeapStatistics } from 'node:v8'
import { isMainThread } from 'node:worker_threads'

const file = process.env.BENCH_MEMORY_FILE
const every = Number(process.env.BENCH_MEMORY_EVERY_MS ?? 250)

const kb = (bytes) => Math.round(bytes / 1024)

function reading() {
  const usage = process.memoryUsage()
  const heap = getHeapStatistics()
  const spaces = {}
  for (const s of getHeapSpaceStatistics()) {
    spaces[s.space_name] = { sizeKb: kb(s.space_size), usedKb: kb(s.space_used_size), physicalKb: kb(s.physical_space_size) }
  }
  return {
    at: Date.now(),
    rssKb: kb(usage.rss),
    heapTotalKb: kb(usage.heapTotal),
    heapUsedKb: kb(usage.heapUsed),
    externalKb: kb(usage.external),
    arrayBuffersKb: kb(usage.arrayBuffers),
    physicalKb: kb(heap.total_physical_size),
    mallocedKb: kb(heap.malloced_memory),
    peakMallocedKb: kb(heap.peak_malloced_memory),
    spaces,
  }
}

if (file && isMainThread) {
  const write = () => appendFileSync(file, `${JSON.stringify(reading())}\n`)
  setInterval(write, every).unref()
  write()
}
