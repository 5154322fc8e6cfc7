import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { LoadResult } from './load/job.js'
import { runGenerator } from './load/run-generator.js'
import { noteTrace } from './load/tail-trace.js'
import { PeerUnavailable, type Peer, type RunningPeer } from './peers/peer.js'
import type { BenchCase, Mode } from './scenarios/scenario.js'

export type Outcome =
  | { status: 'ok'; result: LoadResult }
  | { status: 'unavailable'; reason: string }
  | { status: 'failed'; reason: string }

/** Starts the peer in a fresh directory, runs the case against it once, and stops it whatever happens. */
export async function runCase(benchCase: BenchCase, peer: Peer, mode: Mode, root: string): Promise<Outcome> {
  const workDir = mkdtempSync(join(tmpdir(), `switchyard-bench-${peer.id}-`))
  let running: RunningPeer | undefined
  try {
    running = await peer.start({ workDir, websocket: benchCase.websocket, ...(benchCase.collectOnSignal ? { collectOnSignal: true } : {}) })
    const broker = running
    noteTrace(`${benchCase.id} ${peer.id} ${broker.pid}`)
    const result = await benchCase.measure(broker, { mode, runLoad: (job) => runGenerator(job, root) })
    if (!broker.alive()) return { status: 'failed', reason: 'the broker exited during the run' }
    return { status: 'ok', result }
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err)
    return err instanceof PeerUnavailable ? { status: 'unavailable', reason } : { status: 'failed', reason }
  } finally {
    await running?.stop()
    rmSync(workDir, { recursive: true, force: true })
  }
}

