import type { PeerId } from '../peers/registry.js'
import type { IdleRow, PubSubRow } from './aggregate.js'
import { rowOf, type BenchRun } from './bench-run.js'
import { median } from '../lib/stats.js'
import { change, num, ratio } from './format.js'
import { FIXED_RATE_FAN_OUT_CASES } from '../scenarios/fixed-rate-latency.js'
import { CPU_PER_DELIVERY, describePaired, LATENCY_P99, paired, roundResults, RSS_PEAK, unusable } from './paired.js'

export type Verdict = 'pass' | 'fail' | 'n/a'

export interface Check {
  target: string
  measured: string
  verdict: Verdict
}

// The budgets Switchyard is held to (see the task's plan).
const MAX_RULES_OVERHEAD = 1.05
// Fan-in: one subscriber takes every message, so a matching rule's
// republish weighs on each delivery (see bench/LIMITS.md).
const MAX_FAN_IN_RULES_OVERHEAD = 1.1
const MAX_AGAINST_MOSQUITTO = 1
const MAX_KB_PER_IDLE_WS = 20
const MAX_KB_PER_IDLE_WS_LOADED = 10
const MAX_KB_PER_IDLE_TCP_LOADED = 6
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

function idle(run: BenchRun, peer: PeerId, caseId = 'idle-ws'): IdleRow | string {
  const row = rowOf(run, caseId, peer)
  if (!row) return `${run.peers[peer].label} was not run`
  if (row.unavailable) return `${run.peers[peer].label} not available`
  if (row.figures?.kind !== 'idle') return `${run.peers[peer].label} has no figures`
  return row.figures
}

/** Memory per idle connection of Switchyard in one case, against a budget (at most `maxKb`), with the other brokers beside it. */
function memoryBudget(run: BenchRun, target: string, caseId: string, maxKb: number): Check {
  const own = idle(run, 'switchyard', caseId)
  if (typeof own === 'string') return { target, measured: own, verdict: verdictWithout(run, caseId, 'switchyard') }
  const beside = (['aedes', 'mosquitto'] as const).flatMap((peer) => {
    const f = idle(run, peer, caseId)
    return typeof f === 'string' ? [] : [`${run.peers[peer].label} ${num(f.kbPerConnection, 1)} KB`]
  })
  const rounds = own.runs > 1 ? ` (median of ${own.runs} rounds)` : ''
  return {
    target,
    measured: `${num(own.kbPerConnection, 1)} KB${rounds}${beside.length > 0 ? `; ${beside.join(', ')}` : ''}`,
    verdict: own.kbPerConnection <= maxKb && (rowOf(run, caseId, 'switchyard')?.problems.length ?? 0) === 0 ? 'pass' : 'fail',
  }
}

/** CPU per delivery of `peer` relative to `base` in one case (the median of per-round ratios), against a budget. */
function cpuBudget(run: BenchRun, target: string, caseId: string, peer: PeerId, base: PeerId, max = MAX_RULES_OVERHEAD): Check {
  const p = paired(run, caseId, peer, base)
  if (typeof p === 'string') return { target, measured: p, verdict: 'n/a' }
  return { target, measured: describePaired(p), verdict: p.ratio <= max ? 'pass' : 'fail' }
}

/**
 * p99 latency of a Switchyard peer against Mosquitto's in one fixed-rate
 * case: the median of the per-round ratios, at most 1. A Switchyard that
 * could not keep the rate fails; a Mosquitto that could not is noted (its
 * p99 is then a saturated broker's).
 */
function latencyAgainst(run: BenchRun, target: string, caseId: string, peer: PeerId, base: PeerId): Check {
  const p = paired(run, caseId, peer, base, LATENCY_P99)
  if (typeof p === 'string') return { target, measured: p, verdict: verdictWithout(run, caseId, peer) }
  const behind = (id: PeerId) => {
    const a = pubsub(run, caseId, id)
    return typeof a !== 'string' && a.fellBehind
  }
  const notes = [behind(peer) ? `; ${run.peers[peer].label} could not keep the rate` : '', behind(base) ? `; ${run.peers[base].label} could not keep the rate in some round` : '']
  return { target, measured: `${describePaired(p, LATENCY_P99)}${notes.join('')}`, verdict: p.ratio <= 1 && !behind(peer) ? 'pass' : 'fail' }
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
    ...FIXED_RATE_FAN_OUT_CASES.flatMap((caseId, qos) => (['switchyard', 'switchyard-1k'] as const).map((peer) =>
      latencyAgainst(run, `${peer === 'switchyard' ? 'Switchyard' : 'Switchyard with 1,000 rules'}: p99 latency at most Mosquitto's at 5,000 QoS ${qos} messages/s to 10 subscribers`, caseId, peer, 'mosquitto'))),
    cpuBudget(run, '10,000 non-matching rules: at most 5 % more CPU per delivery than 10', 'rule-count-qos1', 'switchyard-10k', 'switchyard-10'),
    cpuBudget(run, 'Switchyard: at most the CPU per delivery of Mosquitto (QoS 1 fan-in)', 'fan-in-qos1', 'switchyard', 'mosquitto', MAX_AGAINST_MOSQUITTO),
    cpuBudget(run, 'Switchyard with 1,000 rules: at most 10 % more CPU per delivery than Switchyard without rules (QoS 1 fan-in)', 'fan-in-qos1', 'switchyard-1k', 'switchyard', MAX_FAN_IN_RULES_OVERHEAD),
    typeof ws === 'string'
      ? { target: 'Switchyard: under 20 KB per idle WebSocket connection', measured: ws, verdict: 'n/a' }
      : { target: 'Switchyard: under 20 KB per idle WebSocket connection', measured: `${num(ws.kbPerConnection, 1)} KB`, verdict: ws.kbPerConnection < MAX_KB_PER_IDLE_WS ? 'pass' : 'fail' },
    memoryBudget(run, 'Switchyard: at most 10 KB per idle WebSocket connection (after load)', 'idle-ws-loaded', MAX_KB_PER_IDLE_WS_LOADED),
    memoryBudget(run, 'Switchyard: at most 6 KB per idle TCP connection (after load)', 'idle-tcp-loaded', MAX_KB_PER_IDLE_TCP_LOADED),
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
