import type { LoadJob, LoadResult } from '../load/job.js'
import type { RunningPeer } from '../peers/peer.js'
import type { PeerId } from '../peers/registry.js'

/** How long and how often: `--quick` shortens everything. */
export interface Mode {
  quick: boolean
  rounds: number
  warmupMs: number
  measureMs: number
  drainMs: number
}

export interface CaseContext {
  mode: Mode
  /** Runs the load generator on its own core and returns its result. */
  runLoad(job: LoadJob): Promise<LoadResult>
}

/** One measured configuration of a scenario, run against each of its peers in every round. */
export interface BenchCase {
  id: string
  label: string
  peers: readonly PeerId[]
  /** Start the peers with a WebSocket listener. */
  websocket: boolean
  /** Start the Node peers so that they collect their garbage on a signal (RunningPeer.gcSignal). */
  collectOnSignal?: boolean
  /** The figure results.svg shows for this case. */
  chart: 'cpu-per-delivery' | 'latency-p99' | 'kb-per-connection'
  measure(peer: RunningPeer, ctx: CaseContext): Promise<LoadResult>
}

/**
 * A numbered scenario of the benchmark plan. One that cannot be measured
 * yet (its feature does not exist) has no cases and says why in `pending`;
 * adding it later means giving it cases and nothing else.
 */
export interface Scenario {
  number: number
  title: string
  /** A few words for the chart. */
  short: string
  /** What is measured and how, one or two sentences for RESULTS.md. */
  method: string
  cases: readonly BenchCase[]
  pending?: string
}
