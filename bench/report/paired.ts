import type { LoadResult } from '../load/job.js'
import { median } from '../lib/stats.js'
import type { PeerId } from '../peers/registry.js'
import { DISTURBED_PERCENT } from './aggregate.js'
import { outcomeKey, rowOf, type BenchRun } from './bench-run.js'
import { change, num } from './format.js'

/** A figure of one run, on which two peers are compared. */
export interface Figure {
  name: string
  unit: string
  decimals: number
  of(result: LoadResult): number | undefined
}

export const CPU_PER_DELIVERY: Figure = {
  name: 'CPU per delivery',
  unit: 'µs',
  decimals: 2,
  of: (r) => (r.kind === 'pubsub' ? r.brokerCpuUsPerDelivery : undefined),
}

export const LATENCY_P99: Figure = {
  name: 'p99 latency',
  unit: 'ms',
  decimals: 2,
  of: (r) => (r.kind === 'pubsub' ? r.latencyP99Ms : undefined),
}

export const KB_PER_CONNECTION: Figure = {
  name: 'memory per idle connection',
  unit: 'KB',
  decimals: 1,
  of: (r) => (r.kind === 'idle' ? r.kbPerConnection : undefined),
}

export const RSS_PEAK: Figure = {
  name: 'RSS at its peak under the load',
  unit: 'MB',
  decimals: 1,
  of: (r) => (r.kind === 'pubsub' && r.memory ? r.memory.peakKb / 1024 : undefined),
}

export const RSS_AFTER: Figure = {
  name: 'RSS after the load',
  unit: 'MB',
  decimals: 1,
  of: (r) => (r.kind === 'pubsub' && r.memory ? r.memory.afterKb / 1024 : undefined),
}

/** One peer against another in one case. */
export interface Paired {
  /** Each peer's median over the rounds. */
  peer: number
  base: number
  /** peer / base in each round that both ran in. */
  ratios: number[]
  /** The median of `ratios`. */
  ratio: number
  /** Other processes were busy during some run of either. */
  disturbed: boolean
}

/** Why a peer's row in a case has no figures to compare: not run, not available, failed. */
export function unusable(run: BenchRun, caseId: string, peer: PeerId): string | undefined {
  const row = rowOf(run, caseId, peer)
  const label = run.peers[peer].label
  if (!row) return `${label} was not run`
  if (row.unavailable) return `${label} not available`
  if (!row.figures) return `${label} has no figures`
  if (row.problems.length > 0) return `${label} failed: ${row.problems[0]}`
  return undefined
}

/** A peer's result in each round of a case, undefined for a round that did not run or failed. */
export function roundResults(run: BenchRun, caseId: string, peer: PeerId): Array<LoadResult | undefined> {
  return (run.outcomes.get(outcomeKey(caseId, peer)) ?? []).map((o) => (o.status === 'ok' ? o.result : undefined))
}

/**
 * A figure of one peer relative to another, round by round: the two run
 * minutes apart within a round, so drift of the machine between rounds
 * cancels out. The median of those ratios is what is held to a budget.
 */
export function pairedRatios(run: BenchRun, caseId: string, peer: PeerId, base: PeerId, figure: Figure = CPU_PER_DELIVERY): number[] {
  const a = roundResults(run, caseId, peer)
  const b = roundResults(run, caseId, base)
  const ratios: number[] = []
  for (let round = 0; round < Math.min(a.length, b.length); round++) {
    const x = a[round] && figure.of(a[round]!)
    const y = b[round] && figure.of(b[round]!)
    if (x !== undefined && y !== undefined) ratios.push(x / y)
  }
  return ratios
}

/** `peer` against `base` in one case, or why they cannot be compared. */
export function paired(run: BenchRun, caseId: string, peer: PeerId, base: PeerId, figure: Figure = CPU_PER_DELIVERY): Paired | string {
  const why = [unusable(run, caseId, peer), unusable(run, caseId, base)].filter((x) => x !== undefined)
  if (why.length > 0) return why.join('; ')
  const values = (id: PeerId) => roundResults(run, caseId, id).flatMap((r) => (r ? [figure.of(r)].filter((x) => x !== undefined) : []))
  const without = [peer, base].filter((id) => values(id).length === 0).map((id) => `${run.peers[id].label} has no ${figure.name} figure`)
  if (without.length > 0) return without.join('; ')
  const ratios = pairedRatios(run, caseId, peer, base, figure)
  const disturbed = [...roundResults(run, caseId, peer), ...roundResults(run, caseId, base)].some((r) => r?.kind === 'pubsub' && r.otherCpuPercent > DISTURBED_PERCENT)
  return { peer: median(values(peer)), base: median(values(base)), ratios, ratio: median(ratios), disturbed }
}

/** "2.10 µs against 2.00 µs; median of the per-round ratios +5.0 % (rounds: …)", with a note when other processes were busy. */
export function describePaired(p: Paired, figure: Figure = CPU_PER_DELIVERY, { noteDisturbed = true } = {}): string {
  const rounds = p.ratios.length > 1 ? ` (rounds: ${p.ratios.map(change).join(', ')})` : ''
  const disturbed = noteDisturbed && p.disturbed ? '; other processes were busy in some runs' : ''
  const value = (x: number) => `${num(x, figure.decimals)} ${figure.unit}`
  return `${value(p.peer)} against ${value(p.base)}; median of the per-round ratios ${change(p.ratio)}${rounds}${disturbed}`
}
