import { fileURLToPath } from 'node:url'
import { spawnPinned, stopProcess } from '../lib/child-processes.js'
import type { LoadJob, LoadResult } from './job.js'

const GENERATOR = fileURLToPath(new URL('./generator.ts', import.meta.url))
/** The core the generator runs on; brokers run on the other (peers/peer.ts). */
export const GENERATOR_CPU = 1

/** How long a job may take before the generator is killed: its own phases plus start-up and connecting. */
function limitMs(job: LoadJob): number {
  const slack = 30_000
  if (job.kind === 'pubsub') return job.warmupMs + job.measureMs + job.drainMs + (job.memory?.settleMs ?? 0) + slack
  if (job.kind === 'http-invoke') return job.warmupMs + job.measureMs + job.drainMs + slack
  const preload = job.preload ? job.settleMs + limitMs(job.preload) : 0
  return 4 * (job.settleMs + 1000) + (job.warmup + job.connections) * 20 + preload + slack
}

/** Runs one job in a generator process pinned to its own core and returns its result. */
export async function runGenerator(job: LoadJob, root: string): Promise<LoadResult> {
  const spawned = spawnPinned({
    cpu: GENERATOR_CPU,
    command: process.execPath,
    args: ['--import', 'tsx', GENERATOR, JSON.stringify(job)],
    cwd: root,
  })
  const limit = limitMs(job)
  let timedOut = false
  const timer = setTimeout(() => {
    timedOut = true
    void stopProcess(spawned, 1000)
  }, limit)
  await spawned.exited
  clearTimeout(timer)
  if (timedOut) throw new Error(`the load generator did not finish within ${Math.round(limit / 1000)} s`)

  const lines = spawned.output().split('\n').filter((l) => l.startsWith('{"result"') || l.startsWith('{"error"'))
  const last = lines.at(-1)
  if (!last) throw new Error(`the load generator exited (code ${spawned.exit?.code}) without a result: ${spawned.output().trim().slice(-500)}`)
  const answer = JSON.parse(last) as { result?: LoadResult; error?: string }
  if (answer.error !== undefined) throw new Error(`load generator: ${answer.error}`)
  return answer.result!
}
