import { existsSync, readFileSync } from 'node:fs'
import type { PubSubResult } from '../load/job.js'
import { GENERATOR_CPU } from '../load/run-generator.js'
import { BROKER_CPU } from '../peers/peer.js'
import { baselineName } from '../peers/switchyard-baseline.js'
import { RSS_SAMPLE_MS, RSS_SETTLE_MS } from '../scenarios/pubsub-case.js'
import { scenarios } from '../scenarios/registry.js'
import type { BenchCase, Scenario } from '../scenarios/scenario.js'
import { DISTURBED_PERCENT, GENERATOR_BOUND_PERCENT, type Row } from './aggregate.js'
import { baselineSection } from './baseline-section.js'
import { peersOf, rowOf, type BenchRun } from './bench-run.js'
import { cell, num } from './format.js'
import { besideTargets, checkTargets, compareWithReference } from './targets.js'

const VERDICT = { 'pass': '✅ pass', 'fail': '❌ fail', 'n/a': '– n/a' } as const

/** RESULTS.md: what ran where, the targets, then one table per scenario. */
export function resultsMarkdown(run: BenchRun, chartFile: string): string {
  const out: string[] = []
  const minutes = (run.finishedAt.getTime() - run.startedAt.getTime()) / 60_000
  out.push('# Switchyard benchmark results', '')
  out.push(run.mode.quick
    ? `> **Quick run** (\`npm run bench -- --quick\`): ${run.mode.rounds} round, ${run.mode.measureMs / 1000} s windows. The figures are indicative only; a full run (\`npm run bench\`) takes the median of ${3} rounds or more.`
    : `> Full run (\`npm run bench\`): ${run.mode.rounds} rounds with the brokers alternating, ${run.mode.measureMs / 1000} s measured windows; medians reported.`)
  if (run.interrupted) out.push('>', `> **The run stopped early** (${cell(run.interrupted)}); the tables hold what was measured until then.`)
  const disturbed = disturbedRuns(run)
  if (disturbed.of > 0 && disturbed.runs > 0) {
    out.push('>', `> **Other processes were busy** on the machine during ${disturbed.runs} of ${disturbed.of} publish/subscribe runs (over ${DISTURBED_PERCENT} % of a core; see the *Other CPU %* column).`)
  }
  out.push('', `Run on ${run.startedAt.toISOString().replace('T', ' ').slice(0, 16)} UTC, ${minutes.toFixed(1)} minutes; load average ${num(run.load.start, 2)} at the start, ${num(run.load.end, 2)} at the end.`, '')
  out.push(...baselineSection(run))

  out.push('## Machine and versions', '')
  out.push('| | |', '| --- | --- |')
  out.push(`| CPU | ${cell(run.machine.cpuModel)}, ${run.machine.cores} cores |`)
  out.push(`| Memory | ${run.machine.memoryGiB} GiB |`)
  out.push(`| Kernel | Linux ${cell(run.machine.kernel)} |`)
  out.push(`| Node.js | ${run.versions.node} |`)
  out.push(`| Aedes | ${run.versions.aedes} |`)
  out.push(`| Mosquitto | ${run.versions.mosquitto} (Debian package) |`)
  out.push(`| Switchyard | ${cell(run.versions.switchyard)} |`)
  if (run.versions.redis) out.push(`| Redis (cluster scenarios) | ${cell(run.versions.redis)} (Debian package) |`)
  if (run.baseline) out.push(`| Switchyard baseline (\`--baseline ${cell(baselineName(run.baseline))}\`) | ${cell(run.baseline.version)} (${run.baseline.commit}) |`)
  out.push('')

  out.push('## How it was measured', '')
  out.push(
    `- Each broker runs as its own process pinned to core ${BROKER_CPU} (\`taskset\`), the load generator to core ${GENERATOR_CPU}, and the harness itself to the cores other than the brokers'; each run starts a fresh broker on free loopback ports and stops it after.`,
    '- The generator speaks raw MQTT 3.1.1 (`mqtt-packet` over `net`), answers PUBACKs itself, pipelines publishes within two windows per publisher (50 without PUBACK, 100 not yet received by every subscriber) and stamps each payload with its send time, publisher and sequence number.',
    '- **Broker CPU per delivery** is the main figure: utime + stime of the broker (`/proc/<pid>/stat`) over the measured window, divided by the messages delivered to subscribers in it; the lowest and highest of the rounds follow in parentheses. It does not depend on whether the broker or the generator was the bottleneck. Deliveries per second do. Targets that compare two brokers take the median of the per-round ratios, since the two ran minutes apart within a round.',
    '- **Kernel %** is the share of that CPU time spent in the kernel (stime), and **writes / delivery** the write system calls the broker made per delivered message (`syscw` of `/proc/<pid>/io`): together they show how much of a broker\'s cost is system calls, and how well it batches its socket writes.',
    `- A run is **generator-bound** when the generator used more than ${GENERATOR_BOUND_PERCENT} % of its core: its deliveries per second then say more about the generator than about the broker.`,
    `- **Other CPU %** is what the rest of the machine used during the window (\`/proc/stat\` minus the broker and the generator). Above ${DISTURBED_PERCENT} % of a core, other processes were competing for the cores: in a full run such a run is repeated up to twice (within 5 minutes for all repeats), the least disturbed kept, and the row says if it was still disturbed. Throughput and latency suffer most, CPU per delivery less.`,
    '- In saturated runs the latency is mostly the time a message waits inside those windows; scenario 2, at a fixed rate, is the latency figure.',
    '- After the window, publishing stops and every message is waited for: **lost** counts messages that some subscriber never received. Any loss fails the row.',
    `- Broker RSS is VmRSS from \`/proc/<pid>/status\` at the end of the window. Scenario 1 also reads it with every client connected before the first publish (*RSS idle*), every ${RSS_SAMPLE_MS} ms from the first publish to the end of the window (*RSS peak*: the top of the sawtooth a garbage-collected heap draws under load), and ${RSS_SETTLE_MS / 1000} s after every client has disconnected (*RSS after*). Mosquitto runs with persistence off, \`set_tcp_nodelay true\` and \`max_queued_messages 0\` (its default of 1,000 drops messages, QoS 0 included, where Aedes queues them); Switchyard keeps its sessions in SQLite, plain Aedes in memory.`,
    '',
  )

  out.push('## Targets', '')
  out.push('| Target | Measured | |', '| --- | --- | --- |')
  for (const check of checkTargets(run)) out.push(`| ${cell(check.target)} | ${cell(check.measured)} | ${VERDICT[check.verdict]} |`)
  out.push('', 'Beside the targets, what the matching rules cost over Switchyard without rules:', '', '| Figure | Measured |', '| --- | --- |')
  for (const figure of besideTargets(run)) out.push(`| ${cell(figure.target)} | ${cell(figure.measured)} |`)
  out.push('', '### Against an earlier run', '')
  out.push('| Figure | Earlier run | This run |', '| --- | --- | --- |')
  for (const c of compareWithReference(run)) out.push(`| ${cell(c.figure)} | ${c.reference} | ${cell(c.now)} |`)
  out.push('', `![Broker CPU per delivery and memory per idle connection](${chartFile})`, '')
  out.push(...limitsSection())

  for (const scenario of scenarios) out.push(...scenarioSection(run, scenario))

  const problems = problemList(run)
  out.push('## Problems seen in this run', '')
  out.push(...(problems.length > 0 ? problems : ['None: every peer started and no message was lost.']), '')
  return out.join('\n')
}

function scenarioSection(run: BenchRun, scenario: Scenario): string[] {
  const out = [`## ${scenario.number}. ${scenario.title}`, '']
  if (scenario.pending) return [...out, `*${scenario.pending}.* ${scenario.method}`, '']
  out.push(scenario.method, '')
  for (const c of scenario.cases) out.push(...caseTable(run, c, scenario.cases.length > 1), '')
  return out
}

function caseTable(run: BenchRun, c: BenchCase, titled: boolean): string[] {
  const out = titled ? [`### ${c.label}`, ''] : []
  const idle = c.chart === 'kb-per-connection'
  // Cases that read the RSS around the load (scenario 1) show it idle, at its peak, at the window's end and after.
  const memory = peersOf(run, c).some((peer) => { const f = rowOf(run, c.id, peer)?.figures; return f?.kind === 'pubsub' && f.memory !== undefined })
  const rssColumns = memory ? ['RSS idle MB', 'RSS peak MB', 'RSS end MB', 'RSS after MB'] : ['RSS MB']
  out.push(idle
    ? '| Broker | KB per connection | Connections | RSS before (MB) | RSS after (MB) | Notes |\n| --- | ---: | ---: | ---: | ---: | --- |'
    : `| Broker | CPU µs / delivery | Deliveries/s | p50 ms | p99 ms | Lost | Broker CPU % | Kernel % | Writes / delivery | Generator CPU % | Other CPU % | ${rssColumns.join(' | ')} | Notes |\n| --- |${' ---: |'.repeat(10 + rssColumns.length)} --- |`)
  for (const peer of peersOf(run, c)) {
    const label = run.peers[peer].label
    const row = rowOf(run, c.id, peer)
    const columns = idle ? 4 : 10 + rssColumns.length
    if (!row) {
      out.push(`| ${label} |${' – |'.repeat(columns)} not run |`)
      continue
    }
    if (row.unavailable) {
      out.push(`| ${label} |${' – |'.repeat(columns)} **not available**: ${cell(row.unavailable)} |`)
      continue
    }
    const f = row.figures
    const notes = rowNotes(row)
    if (f?.kind === 'idle') {
      out.push(`| ${label} | ${num(f.kbPerConnection, 1)} | ${num(f.opened)} | ${num(f.rssBeforeMb, 1)} | ${num(f.rssAfterMb, 1)} | ${cell(notes)} |`)
    } else if (f?.kind === 'pubsub') {
      const spread = f.runs > 1 ? ` (${num(f.cpuUsMin, 2)}–${num(f.cpuUsMax, 2)})` : ''
      const m = f.memory
      const rss = memory ? [m?.idleMb, m?.peakMb, f.brokerRssMb, m?.afterMb].map((x) => num(x)).join(' | ') : num(f.brokerRssMb)
      out.push(`| ${label} | ${num(f.cpuUsPerDelivery, 2)}${spread} | ${num(f.deliveriesPerSecond)} | ${num(f.latencyP50Ms, 2)} | ${num(f.latencyP99Ms, 2)} | ${num(f.lost)} | ${num(f.brokerCpuPercent)} | ${num(f.brokerSystemPercent)} | ${num(f.writesPerDelivery, 3)} | ${num(f.generatorCpuPercent)} | ${num(f.otherCpuPercent)} | ${rss} | ${cell(notes)} |`)
    } else {
      out.push(`| ${label} |${' – |'.repeat(columns)} ${cell(notes || 'no figures')} |`)
    }
  }
  return out
}

function rowNotes(row: Row): string {
  const notes: string[] = []
  if (row.problems.length > 0) notes.push(`**FAILED**: ${row.problems.join('; ')}`)
  const f = row.figures
  if (f?.kind === 'pubsub') {
    if (f.generatorBound) notes.push('generator-bound')
    if (f.disturbedRuns > 0) notes.push(`other processes busy in ${f.disturbedRuns} of ${f.runs} runs`)
    if (f.fellBehind) notes.push('could not keep the rate')
    if (f.duplicates > 0) notes.push(`${num(f.duplicates)} duplicates`)
    if (f.outOfOrder > 0) notes.push(`${num(f.outOfOrder)} out of order`)
    if (f.storedPerSecond !== undefined) notes.push(`**${num(f.storedPerSecond)} events/s written to SQLite**`)
    if (f.maxStallMs !== undefined) notes.push(`longest event-loop stall **${num(f.maxStallMs, 1)} ms**`)
    if (f.processes) notes.push(`CPU µs / delivery by process: ${f.processes.map((p) => `${p.name} ${num(p.cpuUsPerDelivery, 2)} (${num(p.sharePercent)} %)`).join(', ')}`)
    notes.push(`${f.runs} run${f.runs === 1 ? '' : 's'}, ${num(f.delivered)} deliveries checked`)
  } else if (f?.kind === 'idle') {
    if (f.kbPerConnectionUncollected !== undefined) notes.push(`${num(f.kbPerConnectionUncollected, 1)} KB a connection before the last collection`)
    if (f.preload) notes.push(`the load took RSS from ${num(f.preload.rssBeforeMb, 1)} to ${num(f.preload.rssAfterMb, 1)} MB (its clients gone)`)
    else if (f.kbPerConnectionFromStart !== f.kbPerConnection) notes.push(`${num(f.kbPerConnectionFromStart, 1)} KB a connection counting from an empty broker`)
    if (f.others) notes.push(`the other processes' RSS per connection: ${f.others.map((o) => `${o.name} ${num(o.kbPerConnection, 1)} KB`).join(', ')}`)
    notes.push(`${f.runs} run${f.runs === 1 ? '' : 's'}`)
  }
  return notes.join('; ')
}

function problemList(run: BenchRun): string[] {
  const lines: string[] = []
  for (const scenario of scenarios) {
    for (const c of scenario.cases) {
      for (const peer of peersOf(run, c)) {
        const row = rowOf(run, c.id, peer)
        if (!row) continue
        const where = `${scenario.number}. ${c.label}, ${run.peers[peer].label}`
        if (row.unavailable) lines.push(`- ${where}: not available: ${cell(row.unavailable)}`)
        for (const p of new Set(row.problems)) lines.push(`- ${where}: ${cell(p)}`)
      }
    }
  }
  return lines
}

function disturbedRuns(run: BenchRun): { runs: number; of: number } {
  const results: PubSubResult[] = [...run.outcomes.values()].flat().flatMap((o) => (o.status === 'ok' && o.result.kind === 'pubsub' ? [o.result] : []))
  return { runs: results.filter((r) => r.otherCpuPercent > DISTURBED_PERCENT).length, of: results.length }
}

/**
 * What limits Switchyard where a target is missed: written by hand from the
 * profiles (bench/LIMITS.md), as no run can say it. Kept beside the figures.
 */
function limitsSection(): string[] {
  const file = new URL('../LIMITS.md', import.meta.url)
  if (!existsSync(file)) return []
  return [readFileSync(file, 'utf8').trim(), '']
}
