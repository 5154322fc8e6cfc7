import type { MachineInfo, Versions } from '../lib/machine.js'
import type { Peer } from '../peers/peer.js'
import type { PeerId } from '../peers/registry.js'
import type { Outcome } from '../run-case.js'
import type { Mode } from '../scenarios/scenario.js'
import { aggregate, type Row } from './aggregate.js'

/** Everything one `npm run bench` learned, as the report needs it. */
export interface BenchRun {
  mode: Mode
  startedAt: Date
  finishedAt: Date
  machine: MachineInfo
  versions: Versions
  peers: Record<PeerId, Peer>
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

export function rowOf(run: BenchRun, caseId: string, peerId: PeerId): Row | undefined {
  const outcomes = run.outcomes.get(outcomeKey(caseId, peerId))
  return outcomes && outcomes.length > 0 ? aggregate(outcomes) : undefined
}
