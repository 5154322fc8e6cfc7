import { baselineOf } from '../peers/registry.js'
import { baselineName } from '../peers/switchyard-baseline.js'
import { scenarios } from '../scenarios/registry.js'
import { rowOf, type BenchRun } from './bench-run.js'
import { cell, change, num } from './format.js'
import { CPU_PER_DELIVERY, KB_PER_CONNECTION, LATENCY_P99, paired, roundResults, RSS_AFTER, RSS_PEAK, type Figure } from './paired.js'

/**
 * RESULTS.md with `--baseline REF`: every Switchyard setup of every case on
 * this build against the same setup on the baseline, measured in the same
 * rounds. The median of the per-round ratios is the verdict on a change
 * (a refactor must not make the benchmark slower), since the speed of this
 * machine moves between runs far more than between neighbouring rounds.
 */
export function baselineSection(run: BenchRun): string[] {
  const baseline = run.baseline
  if (!baseline) return []
  const out = [`## This build against the baseline, ${cell(baselineName(baseline))}`, '']
  out.push(
    `This build, ${cell(run.versions.switchyard)}, against \`${cell(baseline.ref)}\`, ${cell(baseline.version)} (${baseline.commit}), built from a temporary git worktree and run with the same setups in the same rounds, alternating with the other brokers. ` +
      'The figure is broker CPU per delivery in every publish/subscribe case, and at a fixed rate p99 latency too (p50 is in the scenario tables, where the baseline\'s rows follow this build\'s); memory per connection for the idle WebSockets; where a case reads the RSS around its load (scenario 1), its peak under the load and its value after the load. ' +
      '**Change** is the median of the per-round ratios of this build to the baseline: above 0 % this build costs more.',
    '',
    '| Case | Setup | Figure | This build | Baseline | Change | Per round; notes |',
    '| --- | --- | --- | ---: | ---: | ---: | --- |',
  )
  let rows = 0
  for (const scenario of scenarios) {
    for (const c of scenario.cases) {
      for (const peer of c.peers) {
        const twin = baselineOf(peer)
        // Only what this run measured: --only and --peers leave cases and setups out.
        if (!twin || (!rowOf(run, c.id, peer) && !rowOf(run, c.id, twin))) continue
        const memory = [peer, twin].some((id) => roundResults(run, c.id, id).some((r) => r?.kind === 'pubsub' && r.memory))
        const figures: Figure[] = c.chart === 'kb-per-connection' ? [KB_PER_CONNECTION]
          : [CPU_PER_DELIVERY, ...(c.chart === 'latency-p99' ? [LATENCY_P99] : []), ...(memory ? [RSS_PEAK, RSS_AFTER] : [])]
        rows++
        const where = `${scenario.number}. ${scenario.short}, ${c.label}`
        for (const figure of figures) {
          const p = paired(run, c.id, peer, twin, figure)
          if (typeof p === 'string') {
            out.push(`| ${cell(where)} | ${cell(run.peers[peer].label)} | ${figure.name} | – | – | – | ${cell(p)} |`)
            continue
          }
          const value = (x: number) => `${num(x, figure.decimals)} ${figure.unit}`
          const rounds = [p.ratios.length > 1 ? p.ratios.map(change).join(', ') : '', p.disturbed ? 'other processes were busy in some runs' : ''].filter(Boolean).join('; ')
          out.push(`| ${cell(where)} | ${cell(run.peers[peer].label)} | ${figure.name} | ${value(p.peer)} | ${value(p.base)} | **${change(p.ratio)}** | ${cell(rounds)} |`)
        }
      }
    }
  }
  if (rows === 0) out.push('| – | – | – | – | – | – | no Switchyard setup ran |')
  out.push('')
  return out
}
