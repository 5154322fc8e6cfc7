import type { MachineInfo, Versions } from '../lib/machine.js'
import type { Peer } from '../peers/peer.js'
import { withBaselines, type PeerId } from '../peers/registry.js'
import type { BaselineInfo } from '../peers/switchyard-baseline.js'
import type { Outcome } from '../run-case.js'
import type { BenchCase, Mode } from '../scenarios/scenario.js'
import { aggregate, type Row } from './aggregate.js'

/** Everything one `npm run bench` learned, as the report needs it. */
export interface BenchRun {
  mode: Mode
  startedAt: Date
  finishedAt: Date
  machine: MachineInfo
  versions: Versions
  peers: Record<PeerId, Peer>
  /** The build that `--baseline REF` measured beside this one, if any. */
  baseline: BaselineInfo | undefined
  /** Every run of a case on a peer, keyed by `caseId:peerId`. */
  outcomes: Map<string, Outcome[]>
  /** 1-minute load averages when the run started and ended: was the machine quiet? */
  load: { start: number; end: number }
  /** Why the run stopped early, if it did. */
  interrupted: string | undefined
}

export function outcomeKey(caseId: string, peerId: PeerId): string {
  return `${caseId}:${peerId}`
}

/** The peers a case has in this run's report: with a baseline, each Switchyard peer's twin follows it. */
export function peersOf(run: BenchRun, c: BenchCase): readonly PeerId[] {
  return run.baseline ? withBaselines(c.peers) : c.peers
}

export function rowOf(run: BenchRun, caseId: string, peerId: PeerId): Row | undefined {
  const outcomes = run.outcomes.get(outcomeKey(caseId, peerId))
  return outcomes && outcomes.length > 0 ? aggregate(outcomes) : undefined
}
