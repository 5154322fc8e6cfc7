import type { PeerId } from '../peers/registry.js'
import type { IdleRow, PubSubRow } from './aggregate.js'
import { rowOf, type BenchRun } from './bench-run.js'
import { median } from '../lib/stats.js'
import { change, num, ratio } from './format.js'
import { CPU_PER_DELIVERY, describePaired, paired, roundResults, RSS_PEAK, unusable } from './paired.js'

export type Verdict = 'pass' | 'fail' | 'n/a'

export interface Check {
  target: string
  measured: string
  verdict: Verdict
}

// The budgets Switchyard is held to (see the task's plan).
const MAX_RULES_OVERHEAD = 1.05
const MAX_KB_PER_IDLE_WS = 20
const MAX_CHAT_P99_MS = 5
const MIN_STORED_PER_SECOND = 50_000
const MAX_STALL_MS = 20
const MAX_RSS_AGAINST_AEDES = 1
const MAX_RSS_AFTER_AGAINST_IDLE = 1.2

function pubsub(run: BenchRun, caseId: string, peer: PeerId): PubSubRow | string {
  const why = unusable(run, caseId, peer)
  if (why) return why
  const figures = rowOf(run, caseId, peer)?.figures
  return figures?.kind === 'pubsub' ? figures : `${run.peers[peer].label} has no figures`
}

function idle(run: BenchRun, peer: PeerId): IdleRow | string {
  const row = rowOf(run, 'idle-ws', peer)
  if (!row) return `${run.peers[peer].label} was not run`
  if (row.unavailable) return `${run.peers[peer].label} not available`
  if (row.figures?.kind !== 'idle-ws') return `${run.peers[peer].label} has no figures`
  return row.figures
}

/** CPU per delivery of `peer` relative to `base` in one case, against a budget. */
function cpuBudget(run: BenchRun, target: string, caseId: string, peer: PeerId, base: PeerId): Check {
  const p = paired(run, caseId, peer, base)
  if (typeof p === 'string') return { target, measured: p, verdict: 'n/a' }
  return { target, measured: describePaired(p), verdict: p.ratio <= MAX_RULES_OVERHEAD ? 'pass' : 'fail' }
}

/** A run that lost messages or broke fails the target it measures; one that did not run has no verdict. */
function verdictWithout(run: BenchRun, caseId: string, peer: PeerId): Verdict {
  return (rowOf(run, caseId, peer)?.problems.length ?? 0) > 0 ? 'fail' : 'n/a'
}

/** p99 latency of one peer in a fixed-rate case, against a budget. */
function latencyBudget(run: BenchRun, target: string, caseId: string, peer: PeerId, maxMs: number): Check {
  const a = pubsub(run, caseId, peer)
  if (typeof a === 'string') return { target, measured: a, verdict: verdictWithout(run, caseId, peer) }
  const behind = a.fellBehind ? '; the generator could not keep the rate' : ''
  return { target, measured: `p99 ${num(a.latencyP99Ms, 2)} ms (p50 ${num(a.latencyP50Ms, 2)} ms) at ${num(a.publishesPerSecond)} messages/s${behind}`, verdict: a.latencyP99Ms < maxMs && !a.fellBehind ? 'pass' : 'fail' }
}

/** Events written per second and the longest stall in the window. */
function storeBudget(run: BenchRun, target: string, caseId: string, peer: PeerId): Check {
  const a = pubsub(run, caseId, peer)
  if (typeof a === 'string') return { target, measured: a, verdict: verdictWithout(run, caseId, peer) }
  if (a.storedPerSecond === undefined || a.maxStallMs === undefined) return { target, measured: 'no store figures', verdict: 'n/a' }
  return {
    target,
    measured: `${num(a.storedPerSecond)} events/s (median of the rounds), longest stall ${num(a.maxStallMs, 1)} ms (over the rounds)`,
    verdict: a.storedPerSecond >= MIN_STORED_PER_SECOND && a.maxStallMs <= MAX_STALL_MS ? 'pass' : 'fail',
  }
}

/** Switchyard's RSS at its peak under the fan-out against plain Aedes' in the same rounds. */
function rssAgainstAedes(run: BenchRun, qos: 0 | 1): Check {
  const caseId = `fan-out-qos${qos}`
  const target = `Switchyard RSS under fan-out load at most plain Aedes' (QoS ${qos}, the peak of each run)`
  const p = paired(run, caseId, 'switchyard', 'aedes', RSS_PEAK)
  if (typeof p === 'string') return { target, measured: p, verdict: verdictWithout(run, caseId, 'switchyard') }
  return { target, measured: describePaired(p, RSS_PEAK, { noteDisturbed: false }), verdict: p.ratio <= MAX_RSS_AGAINST_AEDES ? 'pass' : 'fail' }
}

/** Switchyard's RSS once the fan-out's clients have gone against its RSS before the load, round by round. */
function rssAfterLoad(run: BenchRun, qos: 0 | 1): Check {
  const caseId = `fan-out-qos${qos}`
  const rounds = roundResults(run, caseId, 'switchyard').flatMap((r) => (r?.kind === 'pubsub' && r.memory ? [r.memory] : []))
  const settle = rounds[0] ? ` (${rounds[0].settleMs / 1000} s after the clients left)` : ''
  const target = `Switchyard RSS after the load within 20 % of its idle figure (QoS ${qos}${settle})`
  const why = unusable(run, caseId, 'switchyard')
  if (why) return { target, measured: why, verdict: verdictWithout(run, caseId, 'switchyard') }
  if (rounds.length === 0) return { target, measured: 'no RSS readings around the load', verdict: 'n/a' }
  const ratios = rounds.map((m) => m.afterKb / m.idleKb)
  const mb = (kb: number[]) => num(median(kb) / 1024, 1)
  const perRound = ratios.length > 1 ? ` (rounds: ${ratios.map(change).join(', ')})` : ''
  return {
    target,
    measured: `${mb(rounds.map((m) => m.afterKb))} MB after against ${mb(rounds.map((m) => m.idleKb))} MB idle; median of the per-round ratios ${change(median(ratios))}${perRound}`,
    verdict: median(ratios) <= MAX_RSS_AFTER_AGAINST_IDLE ? 'pass' : 'fail',
  }
}

export function checkTargets(run: BenchRun): Check[] {
  const ws = idle(run, 'switchyard')
  return [
    latencyBudget(run, 'Chat rules: p99 under 5 ms from publish to the republished copy, at 1,000 messages per second, none lost', 'chat-rule', 'switchyard-chat', MAX_CHAT_P99_MS),
    storeBudget(run, 'Store action: at least 50,000 events per second, with no event-loop stall over 20 ms', 'store-action', 'switchyard-store'),
    cpuBudget(run, 'Switchyard with 1,000 rules: at most 5 % more CPU per delivery than plain Aedes (QoS 0 fan-out)', 'fan-out-qos0', 'switchyard-1k', 'aedes'),
    cpuBudget(run, 'Switchyard with 1,000 rules: at most 5 % more CPU per delivery than plain Aedes (QoS 1 fan-out)', 'fan-out-qos1', 'switchyard-1k', 'aedes'),
    cpuBudget(run, '10,000 non-matching rules: at most 5 % more CPU per delivery than 10', 'rule-count-qos1', 'switchyard-10k', 'switchyard-10'),
    typeof ws === 'string'
      ? { target: 'Switchyard: under 20 KB per idle WebSocket connection', measured: ws, verdict: 'n/a' }
      : { target: 'Switchyard: under 20 KB per idle WebSocket connection', measured: `${num(ws.kbPerConnection, 1)} KB`, verdict: ws.kbPerConnection < MAX_KB_PER_IDLE_WS ? 'pass' : 'fail' },
    rssAgainstAedes(run, 0),
    rssAgainstAedes(run, 1),
    rssAfterLoad(run, 0),
    rssAfterLoad(run, 1),
  ]
}

/**
 * Figures shown beside the targets, without a verdict: what the rules cost
 * over Switchyard without rules (the targets compare with plain Aedes, whose
 * deliveries cost more than Switchyard's own).
 */
export function besideTargets(run: BenchRun): Check[] {
  const own = (caseId: string, qos: string): Check => {
    const p = paired(run, caseId, 'switchyard-1k', 'switchyard')
    return { target: `1,000 rules against no rules (${qos} fan-out)`, measured: typeof p === 'string' ? p : describePaired(p, CPU_PER_DELIVERY, { noteDisturbed: false }), verdict: 'n/a' }
  }
  return [own('fan-out-qos0', 'QoS 0'), own('fan-out-qos1', 'QoS 1')]
}

export interface Comparison {
  figure: string
  reference: string
  now: string
}

/** This run beside the figures of an earlier run, to see whether the setup still measures the same thing. */
export function compareWithReference(run: BenchRun): Comparison[] {
  const aedes = pubsub(run, 'fan-out-qos0', 'aedes')
  const mosquitto = pubsub(run, 'fan-out-qos0', 'mosquitto')
  const both = typeof aedes !== 'string' && typeof mosquitto !== 'string'
  const bound = both && (aedes.generatorBound || mosquitto.generatorBound) ? ' (generator-bound)' : ''
  const wsA = idle(run, 'aedes')
  const wsM = idle(run, 'mosquitto')
  return [
    {
      figure: 'Plain Aedes QoS 0 fan-out throughput, relative to Mosquitto',
      reference: '0.58',
      now: both ? `${num(aedes.deliveriesPerSecond / mosquitto.deliveriesPerSecond, 2)}${bound}` : '–',
    },
    {
      figure: 'Plain Aedes CPU per QoS 0 delivery, relative to Mosquitto',
      reference: '1.8×',
      now: both ? ratio(aedes.cpuUsPerDelivery / mosquitto.cpuUsPerDelivery) : '–',
    },
    {
      figure: 'Per idle WebSocket connection: plain Aedes / Mosquitto',
      reference: '~30 KB / 6 KB',
      now: `${typeof wsA === 'string' ? '–' : `${num(wsA.kbPerConnection, 1)} KB`} / ${typeof wsM === 'string' ? '–' : `${num(wsM.kbPerConnection, 1)} KB`}`,
    },
  ]
}
