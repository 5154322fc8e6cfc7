/** The flags by which an operator says how V8 is to scavenge. */
const SAY_HOW_TO_SCAVENGE = ['--parallel-scavenge', '--no-parallel-scavenge', '--single-threaded-gc', '--no-single-threaded-gc']

/**
 * V8 splits each scavenge (the young-generation collection, several a
 * second under load) over up to five threads: the main thread and the
 * platform's four workers. It counts the workers, not the cores the process
 * may run on (ScavengerCollector::NumberOfScavengeTasks), so a broker given
 * one core (taskset, a cpuset) runs them by turns, and the main thread waits
 * while a worker holds the core for its slice. There the main thread does
 * better scavenging alone: at 5,000 messages a second to 10
 * subscribers on one core, the p99 latency was lower with it in each of 4
 * paired runs (QoS 0: 6.5 to 5.2 ms and 5.3 to 4.6; QoS 1: 11.7 to 9.3 and
 * 6.7 to 5.9), and the helper threads' CPU time fell from 73 to 87 ms a
 * second to 60 to 66 (bench/LIMITS.md, tail latency). The flag is read at
 * each scavenge, so setting it once started takes effect at the next one.
 *
 * Returns the flag to set, or undefined: with more than one core, or when
 * the command line or NODE_OPTIONS (`given`, process/given-flags.ts)
 * already say how to scavenge.
 */
export function oneCoreGcFlag(cores: number, given: ReadonlySet<string>): string | undefined {
  if (cores > 1) return undefined
  if (SAY_HOW_TO_SCAVENGE.some((flag) => given.has(flag))) return undefined
  return '--no-parallel-scavenge'
}
