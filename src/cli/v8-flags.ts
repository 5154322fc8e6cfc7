import { availableParallelism } from 'node:os'
import { setFlagsFromString } from 'node:v8'
import { givenFlags } from '../process/given-flags.js'
import { oneCoreGcFlag } from './one-core-gc.js'

/** The flags by which an operator says how V8's memory reducer is to run. */
const SAY_HOW_TO_REDUCE = ['--memory-reducer', '--no-memory-reducer', '--memory-reducer-for-small-heaps', '--no-memory-reducer-for-small-heaps']

/**
 * The V8 settings for the process that `switchyard start` runs the broker
 * in on `cores` cores, set before the app is built (V8 reads each at the
 * moment it applies, so setting them at run time takes effect). What the
 * command line or NODE_OPTIONS (`given`) already say is left to them.
 *
 * Allocation-site pretenuring is turned off. V8 watches each object and
 * array literal: when nearly all it made in a while (85 % of at least 100)
 * outlive a scavenge, it makes the site allocate in the old generation
 * from then on, for good. Node's setImmediate builds the array of its
 * arguments at one such site for every caller (`[arg1, arg2]`, timers.js),
 * and Aedes ends every packet it writes with `setImmediate(done, error,
 * client)` (lib/write.js): a scavenge that falls while a turn's writes wait
 * for their immediates finds them all alive, and in a saturated fan-out
 * that happened in some runs and not in others, whichever the build. Each
 * of those arrays, dead one turn later, was then made in the old
 * generation, holding young objects: 3 % of the main thread on that one
 * line, and 5 to 10 % more CPU per QoS 1 delivery (bench/LIMITS.md, "The
 * QoS 1 fan-out and V8's pretenuring"). Nothing the broker keeps for long
 * is made fast enough for pretenuring to matter to it.
 *
 * V8's memory reducer is not started in a heap that has not yet had a
 * full collection (`--no-memory-reducer-for-small-heaps`). V8 starts it
 * once such a heap's old generation has grown by 1 MB since the isolate
 * was made, and 8 s later it runs up to three full collections with
 * compaction if the isolate allocates little. That is the case of each
 * worker thread the broker starts: the WAL checkpointer, whose isolate
 * loads better-sqlite3 and then hardly allocates, and the functions'
 * threads. Under the store action's load the checkpointer's isolate ran
 * two of them 8.2 and 8.8 s after it started, pauses of 2 to 15 ms on the
 * core the event loop shares (bench/LIMITS.md, the store action's longest
 * stall), to give back 3.5 MB (its heap's 8.2 MB to 4.7). The broker's
 * own heap is not concerned: it has its first full collections while the
 * program loads, and from then on V8 starts its reducer after each, as
 * before.
 *
 * On one core, scavenges run on the main thread alone (one-core-gc.ts).
 */
export function brokerV8Flags(cores: number, given: ReadonlySet<string>): string[] {
  const flags = ['--no-allocation-site-pretenuring']
  const gc = oneCoreGcFlag(cores, given)
  if (gc) flags.push(gc)
  if (!SAY_HOW_TO_REDUCE.some((flag) => given.has(flag))) flags.push('--no-memory-reducer-for-small-heaps')
  return flags
}

/** Sets brokerV8Flags for this process; returns them. */
export function setBrokerV8Flags(): string[] {
  const flags = brokerV8Flags(availableParallelism(), givenFlags())
  for (const flag of flags) setFlagsFromString(flag)
  return flags
}
