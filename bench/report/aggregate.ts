import type { IdleResult, PubSubResult } from '../load/job.js'
import { median, sum } from '../lib/stats.js'
import type { Outcome } from '../run-case.js'

/** Above this share of its core the generator, not the broker, may be what limits a run. */
export const GENERATOR_BOUND_PERCENT = 85
/** Above this, other processes on the machine took enough CPU to skew a run. */
export const DISTURBED_PERCENT = 10

export interface PubSubRow {
  kind: 'pubsub'
  runs: number
  cpuUsPerDelivery: number
  /** The spread of CPU per delivery over the rounds. */
  cpuUsMin: number
  cpuUsMax: number
  deliveriesPerSecond: number
  publishesPerSecond: number
  latencyP50Ms: number
  latencyP99Ms: number
  brokerCpuPercent: number
  generatorCpuPercent: number
  otherCpuPercent: number
  /** Share of the broker's CPU time spent in the kernel; absent in runs recorded before it was measured. */
  brokerSystemPercent?: number
  /** The broker's write system calls per delivery; absent in runs recorded before it was measured. */
  writesPerDelivery?: number
  brokerRssMb: number
  delivered: number
  lost: number
  duplicates: number
  outOfOrder: number
  generatorBound: boolean
  /** Runs during which other processes used more than DISTURBED_PERCENT of a core. */
  disturbedRuns: number
  fellBehind: boolean
  storedPerSecond?: number
  /** The longest stall over every round. */
  maxStallMs?: number
  /** A broker side of several processes (a cluster): each one's median CPU per delivery, and its median share of the total in percent. */
  processes?: Array<{ name: string; cpuUsPerDelivery: number; sharePercent: number }>
  /** Cases that read the RSS around the load (PubSubJob's `memory`): the medians of the rounds. */
  memory?: { idleMb: number; peakMb: number; afterMb: number; settleMs: number }
}

export interface IdleRow {
  kind: 'idle'
  runs: number
  kbPerConnection: number
  kbPerConnectionFromStart: number
  /** Cases read after collections: the figure from the reading taken before the last one. */
  kbPerConnectionUncollected?: number
  opened: number
  failed: number
  firstError: string | undefined
  rssBeforeMb: number
  rssAfterMb: number
  /** A cluster's other processes: the median of what each one's RSS grew by per connection. */
  others?: Array<{ name: string; kbPerConnection: number }>
  /** Cases after load: the broker's RSS before the load and once its clients were gone (medians), and the messages it lost. */
  preload?: { rssBeforeMb: number; rssAfterMb: number; lost: number }
}

/** One peer in one case, over all rounds. `problems` makes the row fail. */
export interface Row {
  figures: PubSubRow | IdleRow | undefined
  unavailable: string | undefined
  problems: string[]
}

export function aggregate(outcomes: readonly Outcome[]): Row {
  const problems: string[] = []
  const unavailable = outcomes.find((o) => o.status === 'unavailable')
  for (const o of outcomes) if (o.status === 'failed') problems.push(o.reason)
  const results = outcomes.flatMap((o) => (o.status === 'ok' ? [o.result] : []))
  const pubsub = results.filter((r): r is PubSubResult => r.kind === 'pubsub')
  const idle = results.filter((r): r is IdleResult => r.kind === 'idle')

  let figures: Row['figures']
  if (pubsub.length > 0) {
    const lost = sum(pubsub.map((r) => r.lost))
    if (lost !== 0) problems.push(`${lost} messages lost`)
    figures = {
      kind: 'pubsub',
      runs: pubsub.length,
      cpuUsPerDelivery: median(pubsub.map((r) => r.brokerCpuUsPerDelivery)),
      cpuUsMin: Math.min(...pubsub.map((r) => r.brokerCpuUsPerDelivery)),
      cpuUsMax: Math.max(...pubsub.map((r) => r.brokerCpuUsPerDelivery)),
      deliveriesPerSecond: median(pubsub.map((r) => r.deliveriesPerSecond)),
      publishesPerSecond: median(pubsub.map((r) => r.publishesPerSecond)),
      latencyP50Ms: median(pubsub.map((r) => r.latencyP50Ms)),
      latencyP99Ms: median(pubsub.map((r) => r.latencyP99Ms)),
      brokerCpuPercent: median(pubsub.map((r) => r.brokerCpuPercent)),
      generatorCpuPercent: median(pubsub.map((r) => r.generatorCpuPercent)),
      otherCpuPercent: median(pubsub.map((r) => r.otherCpuPercent)),
      ...(pubsub.every((r) => r.brokerSystemPercent !== undefined) ? { brokerSystemPercent: median(pubsub.map((r) => r.brokerSystemPercent!)) } : {}),
      ...(pubsub.every((r) => r.brokerWritesPerDelivery !== undefined) ? { writesPerDelivery: median(pubsub.map((r) => r.brokerWritesPerDelivery!)) } : {}),
      brokerRssMb: median(pubsub.map((r) => r.brokerRssKb / 1024)),
      delivered: sum(pubsub.map((r) => r.received)),
      lost,
      duplicates: sum(pubsub.map((r) => r.duplicates)),
      outOfOrder: sum(pubsub.map((r) => r.outOfOrder)),
      generatorBound: pubsub.some((r) => r.generatorCpuPercent > GENERATOR_BOUND_PERCENT),
      disturbedRuns: pubsub.filter((r) => r.otherCpuPercent > DISTURBED_PERCENT).length,
      fellBehind: pubsub.some((r) => r.fellBehind),
      ...(pubsub.some((r) => r.storedPerSecond !== undefined) ? { storedPerSecond: median(pubsub.map((r) => r.storedPerSecond ?? 0)) } : {}),
      ...(pubsub.some((r) => r.maxStallMs !== undefined) ? { maxStallMs: Math.max(...pubsub.map((r) => r.maxStallMs ?? 0)) } : {}),
      ...(pubsub[0]!.processes ? { processes: processParts(pubsub) } : {}),
      ...(pubsub.every((r) => r.memory) ? { memory: memoryMedians(pubsub) } : {}),
    }
  } else if (idle.length > 0) {
    const failed = sum(idle.map((r) => r.failed))
    if (failed !== 0) problems.push(`${failed} connections failed (${idle.find((r) => r.firstError)?.firstError})`)
    const loads = idle.flatMap((r) => (r.preload ? [r.preload] : []))
    const lostInLoad = sum(loads.map((p) => p.lost))
    if (lostInLoad !== 0) problems.push(`${lostInLoad} messages lost in the load before the connections`)
    figures = {
      kind: 'idle',
      runs: idle.length,
      kbPerConnection: median(idle.map((r) => r.kbPerConnection)),
      // Runs recorded before the warm-up existed have no such figure.
      kbPerConnectionFromStart: median(idle.map((r) => r.kbPerConnectionFromStart ?? r.kbPerConnection)),
      ...(idle.every((r) => r.kbPerConnectionUncollected !== undefined) ? { kbPerConnectionUncollected: median(idle.map((r) => r.kbPerConnectionUncollected!)) } : {}),
      opened: median(idle.map((r) => r.opened)),
      failed,
      firstError: idle.find((r) => r.firstError)?.firstError,
      rssBeforeMb: median(idle.map((r) => r.rssBeforeKb / 1024)),
      rssAfterMb: median(idle.map((r) => r.rssAfterKb / 1024)),
      ...(idle[0]!.others ? { others: idle[0]!.others.map(({ name }) => ({ name, kbPerConnection: median(idle.map((r) => r.others?.find((o) => o.name === name)?.kbPerConnection ?? Number.NaN)) })) } : {}),
      ...(loads.length > 0 ? { preload: { rssBeforeMb: median(loads.map((p) => p.rssBeforeKb / 1024)), rssAfterMb: median(loads.map((p) => p.rssAfterKb / 1024)), lost: lostInLoad } } : {}),
    }
  }
  return { figures, unavailable: unavailable?.status === 'unavailable' ? unavailable.reason : undefined, problems }
}

function memoryMedians(runs: readonly PubSubResult[]): NonNullable<PubSubRow['memory']> {
  const mb = (kb: (m: NonNullable<PubSubResult['memory']>) => number) => median(runs.map((r) => kb(r.memory!) / 1024))
  return { idleMb: mb((m) => m.idleKb), peakMb: mb((m) => m.peakKb), afterMb: mb((m) => m.afterKb), settleMs: runs[0]!.memory!.settleMs }
}

/** Each process's median CPU per delivery over the runs, and its median share of the broker side's CPU. */
function processParts(runs: readonly PubSubResult[]): NonNullable<PubSubRow['processes']> {
  return runs[0]!.processes!.map(({ name }) => {
    const of = (r: PubSubResult) => r.processes?.find((p) => p.name === name)
    return {
      name,
      cpuUsPerDelivery: median(runs.map((r) => of(r)?.cpuUsPerDelivery ?? Number.NaN)),
      sharePercent: median(runs.map((r) => ((of(r)?.cpuUsPerDelivery ?? Number.NaN) / r.brokerCpuUsPerDelivery) * 100)),
    }
  })
}
