import { isBaseline, type BaselinePeerId, type PeerId } from '../peers/registry.js'
import { baselineName } from '../peers/switchyard-baseline.js'
import { scenarios } from '../scenarios/registry.js'
import type { BenchCase } from '../scenarios/scenario.js'
import { peersOf, rowOf, type BenchRun } from './bench-run.js'
import { renderChart, type Bar, type Panel } from './svg-chart.js'

const COLORS: Record<Exclude<PeerId, BaselinePeerId>, string> = {
  'switchyard': '#2f6fdf',
  'switchyard-1k': '#7a4fd6',
  'switchyard-10': '#5b8def',
  'switchyard-10k': '#9a6fe6',
  'aedes': '#3a9b5c',
  'mosquitto': '#d9822b',
  'switchyard-chat': '#4a7fc1',
  'switchyard-store': '#3f5fa8',
  'switchyard-fn': '#6c8fd8',
  'switchyard-cluster': '#c0392b',
  'switchyard-cluster-3': '#e0685a',
  'switchyard-cluster-fn': '#a8322a',
}

const METRIC = {
  'cpu-per-delivery': { caption: 'broker CPU per delivery, lower is better', unit: 'µs', decimals: 2 },
  'latency-p99': { caption: 'p99 latency, lower is better', unit: 'ms', decimals: 2 },
  'kb-per-connection': { caption: 'broker memory per connection, lower is better', unit: 'KB', decimals: 1 },
} as const

// Every setup on the baseline build: grey, beside the colour of the same setup on this build.
const BASELINE_COLOR = '#9aa0a8'

function bar(run: BenchRun, c: BenchCase, peer: PeerId): Bar {
  const row = rowOf(run, c.id, peer)
  const label = run.peers[peer].label
  const color = isBaseline(peer) ? BASELINE_COLOR : COLORS[peer]
  if (!row) return { label, value: undefined, note: 'not run', color }
  if (row.unavailable) return { label, value: undefined, note: 'not available', color }
  const f = row.figures
  const notes = [row.problems.length > 0 ? 'FAILED' : '', f?.kind === 'pubsub' && f.generatorBound ? 'generator-bound' : ''].filter(Boolean).join(', ') || undefined
  if (f?.kind === 'idle') return { label, value: f.kbPerConnection, note: notes, color }
  if (f?.kind === 'pubsub') return { label, value: c.chart === 'latency-p99' ? f.latencyP99Ms : f.cpuUsPerDelivery, note: notes, color }
  return { label, value: undefined, note: notes ?? 'no figure', color }
}

/** The chart of RESULTS.md: one panel per measured case, with the figure that case is about. */
export function resultsChart(run: BenchRun): string {
  const panels: Panel[] = []
  for (const scenario of scenarios) {
    for (const c of scenario.cases) {
      // Cases left out with --only get no empty panel.
      const peers = peersOf(run, c)
      if (!peers.some((peer) => rowOf(run, c.id, peer))) continue
      const metric = METRIC[c.chart]
      panels.push({
        title: `${scenario.number}. ${scenario.short}, ${c.label}: ${metric.caption}`,
        unit: metric.unit,
        decimals: metric.decimals,
        bars: peers.map((peer) => bar(run, c, peer)),
      })
    }
  }
  const kind = run.mode.quick ? 'quick run, 1 round' : `${run.mode.rounds} rounds, medians`
  const baseline = run.baseline ? `; baseline ${baselineName(run.baseline)} (${run.baseline.commit}) in grey` : ''
  return renderChart('Switchyard benchmark', `${run.startedAt.toISOString().slice(0, 10)}, ${kind}; ${run.machine.cpuModel}, ${run.machine.cores} cores${baseline}`, panels)
}
