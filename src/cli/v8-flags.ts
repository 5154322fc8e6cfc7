import { availableParallelism } from 'node:os'
import { setFlagsFromString } from 'node:v8'
import { givenFlags } from '../process/given-flags.js'
import { oneCoreGcFlag } from './one-core-gc.js'

/**
 * V8 settings for the process that `switchyard start` runs the broker in,
 * set before the app is built (V8 reads this one at each young-generation
 * collection, so setting it at run time takes effect).
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
 * On one core, scavenges run on the main thread alone (one-core-gc.ts).
 * Returns the flags set.
 */
export function setBrokerV8Flags(): string[] {
  const flags = ['--no-allocation-site-pretenuring']
  const gc = oneCoreGcFlag(availableParallelism(), givenFlags())
  if (gc) flags.push(gc)
  for (const flag of flags) setFlagsFromString(flag)
  return flags
}
