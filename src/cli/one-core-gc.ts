/**
 * V8 splits each scavenge (the young-generation collection, several a
 * second under load) over up to five threads: the main thread and the
 * platform's four workers. It counts the workers, not the cores the process
 * may run on (ScavengerCollector::NumberOfScavengeTasks), so a broker given
 * one core (taskset, a cpuset) runs them by turns, and the main thread waits
 * while a worker holds the core for its slice. There a scavenge done by the
 * main thread alone is shorter: at 50,000 deliveries a second on one core,
 * the workers' CPU time fell from 11 to 17 ms a second to 6 to 8, the
 * longest pauses from 1.6 to 10.8 ms to 0.9 to 3 ms (bench/LIMITS.md, tail
 * latency). The flag is read at each scavenge, so setting it once started
 * takes effect at the next one.
 *
 * Returns the flag to set, or undefined: with more than one core, or when
 * the command line or NODE_OPTIONS already say how to scavenge.
 */
export function oneCoreGcFlag(cores: number, execArgv: readonly string[], nodeOptions: string | undefined): string | undefined {
  if (cores > 1) return undefined
  const given = [...execArgv, ...(nodeOptions ?? '').split(/\s+/)]
  if (given.some((arg) => /^--(no-)?(parallel[-_]scavenge|single[-_]threaded[-_]gc)\b/.test(arg))) return undefined
  return '--no-parallel-scavenge'
}
