import { readFileSync, writeFileSync } from 'node:fs'
import type { Peer } from '../peers/peer.js'
import type { PeerId } from '../peers/registry.js'
import type { BaselineInfo } from '../peers/switchyard-baseline.js'
import type { Outcome } from '../run-case.js'
import type { BenchRun } from './bench-run.js'

/**
 * Every run's raw result, kept beside RESULTS.md (results.json), so that the
 * report can be rebuilt (`npm run bench -- --report`) or checked without
 * measuring again. Figures that were not numbers (NaN) come back as null.
 */
interface RawRun extends Omit<BenchRun, 'startedAt' | 'finishedAt' | 'peers' | 'outcomes'> {
  startedAt: string
  finishedAt: string
  outcomes: Array<[string, Outcome[]]>
}

export function saveRun(run: BenchRun, file: string): void {
  const { peers: _peers, ...rest } = run
  const raw: RawRun = { ...rest, startedAt: run.startedAt.toISOString(), finishedAt: run.finishedAt.toISOString(), outcomes: [...run.outcomes] }
  writeFileSync(file, `${JSON.stringify(raw, null, 1)}\n`)
}

/** `peersFor` names the peers, the baseline's as the run named them. */
export function loadRun(file: string, peersFor: (baseline: BaselineInfo | undefined) => Record<PeerId, Peer>): BenchRun {
  const raw = JSON.parse(readFileSync(file, 'utf8')) as RawRun
  // Runs recorded when only WebSocket connections were measured called their results `idle-ws`.
  for (const [, outcomes] of raw.outcomes) {
    for (const o of outcomes) if (o.status === 'ok' && (o.result.kind as string) === 'idle-ws') o.result.kind = 'idle'
  }
  // Runs recorded before --baseline existed have no `baseline` key.
  return { ...raw, baseline: raw.baseline, peers: peersFor(raw.baseline), startedAt: new Date(raw.startedAt), finishedAt: new Date(raw.finishedAt), outcomes: new Map(raw.outcomes) }
}
