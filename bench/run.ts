/**
 * The benchmark harness: `npm run bench` (full) or `npm run bench -- --quick`.
 * Builds Switchyard, runs every scenario against every peer it names, in
 * rounds with the brokers alternating, and writes bench/RESULTS.md and
 * bench/results.svg, with the raw results in bench/results.json.
 * Options: --quick, --rounds N, --only 1,5 (scenario numbers), --report
 * (rebuild RESULTS.md and results.svg from results.json without measuring),
 * --out DIR (write the three files there instead: a check that must leave
 * the committed results alone), --peers a,b (only these brokers), --baseline
 * REF (also build the git ref REF, e.g. `main~3`, in a temporary worktree
 * and run every Switchyard setup on it too, in the same rounds: the report
 * then sets this build against it).
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import type { IdleResult, PubSubResult } from './load/job.js'
import { killChildrenOnExit, pinThisProcessAwayFrom } from './lib/child-processes.js'
import { machineInfo, versions } from './lib/machine.js'
import { loadAverage } from './lib/proc-stats.js'
import { installMosquittoIfMissing } from './peers/mosquitto.js'
import { BROKER_CPU } from './peers/peer.js'
import { baselineOf, createPeers, isBaseline, PEER_IDS, type Builds, type PeerId } from './peers/registry.js'
import { baselineName, prepareBaseline, type BaselineInfo } from './peers/switchyard-baseline.js'
import { buildSwitchyard, type SwitchyardBuild } from './peers/switchyard-build.js'
import { aggregate, DISTURBED_PERCENT } from './report/aggregate.js'
import { outcomeKey, type BenchRun } from './report/bench-run.js'
import { num } from './report/format.js'
import { resultsMarkdown } from './report/markdown.js'
import { loadRun, saveRun } from './report/raw-results.js'
import { resultsChart } from './report/results-chart.js'
import { runCase, type Outcome } from './run-case.js'
import { scenarios } from './scenarios/registry.js'
import type { Mode } from './scenarios/scenario.js'

const BENCH_DIR = dirname(fileURLToPath(import.meta.url))
const ROOT = dirname(BENCH_DIR)
// A run during which other processes were busy is repeated (at most twice)
// and the least disturbed one kept, within a time allowance for all repeats
// together: none in quick mode, which must stay under three minutes.
const MAX_RETRIES = 2
const RETRY_ALLOWANCE_MS = { quick: 0, full: 5 * 60_000 }

function otherCpu(outcome: Outcome): number {
  return outcome.status === 'ok' && outcome.result.kind === 'pubsub' ? outcome.result.otherCpuPercent : 0
}

interface Options {
  mode: Mode
  only: Set<number> | undefined
  peerIds: Set<string> | undefined
  reportOnly: boolean
  outDir: string
  baselineRef: string | undefined
}

function parseMode(): Options {
  const { values } = parseArgs({
    options: {
      quick: { type: 'boolean' },
      rounds: { type: 'string' },
      only: { type: 'string' },
      peers: { type: 'string' },
      report: { type: 'boolean' },
      out: { type: 'string' },
      baseline: { type: 'string' },
    },
    strict: true,
  })
  const quick = values.quick ?? false
  const rounds = values.rounds ? Number(values.rounds) : quick ? 1 : 3
  if (!Number.isInteger(rounds) || rounds < 1 || rounds > 20) throw new Error('--rounds must be a whole number from 1 to 20')
  const only = values.only ? new Set(values.only.split(',').map(Number)) : undefined
  const peerIds = values.peers ? new Set(values.peers.split(',')) : undefined
  if (values.baseline !== undefined && values.report) throw new Error('--baseline builds and measures; --report only rebuilds the report from results.json')
  if (values.baseline === '') throw new Error('--baseline needs a git ref, e.g. --baseline main~3')
  const unknown = [...(peerIds ?? [])].filter((id) => !(PEER_IDS as readonly string[]).includes(id))
  if (unknown.length > 0) throw new Error(`--peers: no broker named ${unknown.join(', ')} (known: ${PEER_IDS.join(', ')})`)
  const twins = [...(peerIds ?? [])].filter((id) => isBaseline(id as PeerId))
  if (twins.length > 0 && values.baseline === undefined) throw new Error(`--peers ${twins.join(', ')}: a baseline peer needs --baseline REF`)
  if (peerIds && twins.length === 0 && values.baseline !== undefined) throw new Error('--baseline: --peers names no baseline peer (such as switchyard-baseline), so the baseline would be built for nothing')
  const mode: Mode = quick
    ? { quick, rounds, warmupMs: 700, measureMs: 2500, drainMs: 10_000 }
    : { quick, rounds, warmupMs: 2000, measureMs: 8000, drainMs: 15_000 }
  return { mode, only, peerIds, reportOnly: values.report ?? false, outDir: values.out ? resolve(values.out) : BENCH_DIR, baselineRef: values.baseline }
}

function writeReport(run: BenchRun, outDir: string): void {
  writeFileSync(join(outDir, 'results.svg'), resultsChart(run))
  writeFileSync(join(outDir, 'RESULTS.md'), resultsMarkdown(run, 'results.svg'))
}

const NOT_BUILT: SwitchyardBuild = { failure: 'not built: --report only rebuilds the report' }

/** `npx tsc -p tsconfig.build.json`; on failure the Switchyard peers are reported as not available. */
function build(): SwitchyardBuild {
  console.log('building Switchyard (tsc -p tsconfig.build.json)…')
  const built = buildSwitchyard(ROOT, join(BENCH_DIR, '.switchyard-build'))
  if ('failure' in built) console.log(`Switchyard will be reported as not available: ${built.failure}`)
  return built
}

function describe(outcome: Outcome): string {
  if (outcome.status !== 'ok') return `${outcome.status}: ${outcome.reason}`
  const r: PubSubResult | IdleResult = outcome.result
  if (r.kind === 'idle') {
    const others = r.others ? `; ${r.others.map((o) => `${o.name} ${num(o.kbPerConnection, 1)} KB`).join(', ')}` : ''
    const uncollected = r.kbPerConnectionUncollected !== undefined ? `; ${num(r.kbPerConnectionUncollected, 1)} KB before the last collection` : ''
    const load = r.preload ? `; after a load that took RSS from ${num(r.preload.rssBeforeKb / 1024, 1)} to ${num(r.preload.rssAfterKb / 1024, 1)} MB, ${r.preload.lost} lost` : ''
    return `${num(r.kbPerConnection, 1)} KB per connection (${r.opened} opened, ${r.failed} failed)${uncollected}${others}${load}`
  }
  const parts = r.processes ? ` (${r.processes.map((p) => `${p.name} ${num(p.cpuUsPerDelivery, 2)}`).join(', ')})` : ''
  return `${num(r.brokerCpuUsPerDelivery, 2)} µs CPU/delivery${parts}, ${num(r.deliveriesPerSecond)} deliveries/s, p50 ${num(r.latencyP50Ms, 2)} ms, p99 ${num(r.latencyP99Ms, 2)} ms, kernel ${num(r.brokerSystemPercent ?? Number.NaN)} %, writes/delivery ${num(r.brokerWritesPerDelivery ?? Number.NaN, 3)}, reads/delivery ${num(r.brokerReadsPerDelivery ?? Number.NaN, 3)}, generator ${num(r.generatorCpuPercent)} %, lost ${r.lost}`
}

async function main(): Promise<number> {
  killChildrenOnExit()
  const options = parseMode()
  const rawFile = join(options.outDir, 'results.json')
  const shown = (file: string) => relative(process.cwd(), join(options.outDir, file))
  if (options.reportOnly) {
    const peersFor: Parameters<typeof loadRun>[1] = (baseline) =>
      createPeers(ROOT, { current: NOT_BUILT, ...(baseline ? { baseline: { build: NOT_BUILT, name: baselineName(baseline) } } : {}) })
    writeReport(loadRun(rawFile, peersFor), options.outDir)
    console.log(`rebuilt ${shown('RESULTS.md')} and ${shown('results.svg')} from ${shown('results.json')}`)
    return 0
  }
  mkdirSync(options.outDir, { recursive: true })
  const startedAt = new Date()
  const builds: Builds = { current: build() }
  const baseline = options.baselineRef ? prepareBaseline(ROOT, options.baselineRef, (line) => console.log(line)) : undefined
  try {
    if (baseline) builds.baseline = { build: baseline.build, name: baselineName(baseline.info) }
    return await measure(options, startedAt, builds, baseline?.info)
  } finally {
    baseline?.remove()
  }
}

/**
 * The order a case's peers run in, in a round: the order rotates each round
 * so no broker always runs first (or right after another). A Switchyard peer
 * and its baseline twin run next to each other, so that little drift of the
 * machine comes between them, and the twin goes first every other round.
 */
function roundOrder(peers: readonly PeerId[], round: number, baseline: boolean, selected: Set<string> | undefined): PeerId[] {
  const groups = peers
    .map((id) => [id, ...(baseline ? [baselineOf(id)] : [])].filter((x) => x !== undefined).filter((x) => !selected || selected.has(x)))
    .filter((group) => group.length > 0)
  return groups.map((_, i) => groups[(i + round) % groups.length]!).flatMap((group) => (round % 2 === 1 ? group.reverse() : group))
}

/** Every round of every selected case on every selected peer; then the report. The exit code: 1 if a row failed or the run stopped early. */
async function measure({ mode, only, peerIds, outDir }: Options, startedAt: Date, builds: Builds, baseline: BaselineInfo | undefined): Promise<number> {
  const rawFile = join(outDir, 'results.json')
  const shown = (file: string) => relative(process.cwd(), join(outDir, file))
  const harnessCores = pinThisProcessAwayFrom(BROKER_CPU)
  if (harnessCores === undefined) console.log(`one core: the harness shares core ${BROKER_CPU} with the brokers`)
  const noMosquitto = installMosquittoIfMissing()
  if (noMosquitto) console.log(`Mosquitto will be reported as not available: ${noMosquitto}`)
  const peers = createPeers(ROOT, builds)
  const run: BenchRun = {
    mode,
    startedAt,
    finishedAt: startedAt,
    machine: machineInfo(),
    versions: versions(ROOT),
    peers,
    baseline,
    outcomes: new Map(),
    load: { start: loadAverage(), end: Number.NaN },
    interrupted: undefined,
  }
  const selected = scenarios.filter((s) => !only || only.has(s.number))
  const allowance = RETRY_ALLOWANCE_MS[mode.quick ? 'quick' : 'full']
  let retrySpentMs = 0

  try {
    for (let round = 0; round < mode.rounds; round++) {
      for (const scenario of selected) {
        for (const benchCase of scenario.cases) {
          for (const peerId of roundOrder(benchCase.peers, round, baseline !== undefined, peerIds)) {
            const key = outcomeKey(benchCase.id, peerId)
            const previous = run.outcomes.get(key) ?? []
            // A peer that could not start will not start in the next round either.
            if (previous.some((o) => o.status === 'unavailable')) continue
            let outcome = await runCase(benchCase, peers[peerId], mode, ROOT)
            for (let retry = 1; retry <= MAX_RETRIES && otherCpu(outcome) > DISTURBED_PERCENT && retrySpentMs < allowance; retry++) {
              console.log(`  other processes used ${num(otherCpu(outcome))} % of a core during ${peers[peerId].label}; running it again`)
              const t0 = Date.now()
              const again = await runCase(benchCase, peers[peerId], mode, ROOT)
              retrySpentMs += Date.now() - t0
              if (again.status !== 'ok' || otherCpu(again) < otherCpu(outcome)) outcome = again
            }
            run.outcomes.set(key, [...previous, outcome])
            console.log(`[round ${round + 1}/${mode.rounds}] ${scenario.number}. ${benchCase.label} | ${peers[peerId].label}: ${describe(outcome)}`)
          }
        }
      }
    }
  } catch (err) {
    run.interrupted = err instanceof Error ? err.message : String(err)
    console.error(err)
  }

  run.finishedAt = new Date()
  run.load.end = loadAverage()
  saveRun(run, rawFile)
  writeReport(run, outDir)
  console.log(`wrote ${shown('RESULTS.md')}, ${shown('results.svg')} and ${shown('results.json')} (${((run.finishedAt.getTime() - startedAt.getTime()) / 60_000).toFixed(1)} minutes)`)

  const failed = [...run.outcomes.values()].map(aggregate).filter((row) => row.problems.length > 0)
  if (failed.length > 0) console.error(`${failed.length} row(s) failed: lost messages or runs that broke; see RESULTS.md`)
  return failed.length > 0 || run.interrupted ? 1 : 0
}

process.exitCode = await main()
