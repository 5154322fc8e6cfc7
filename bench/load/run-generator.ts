import { fileURLToPath } from 'node:url'
import { spawnPinned, stopProcess } from '../lib/child-processes.js'
import { compileTypeScript } from '../peers/switchyard-build.js'
import type { LoadJob, LoadResult } from './job.js'

const TSCONFIG = fileURLToPath(new URL('./tsconfig.json', import.meta.url))
const GENERATOR = fileURLToPath(new URL('../.generator-build/load/generator.js', import.meta.url))
/** The core the generator runs on; brokers run on the other (peers/peer.ts). */
export const GENERATOR_CPU = 1

/**
 * Extra Node.js options for the load generator, from
 * `BENCH_GENERATOR_NODE_OPTIONS`: `--cpu-prof --cpu-prof-dir=/tmp/prof`, or
 * `--import <abs path of tools/tail-probe.mjs>` with BENCH_TRACE_DIR, to see
 * what the generator's own pauses are.
 */
const GENERATOR_NODE_OPTIONS: string[] = (process.env.BENCH_GENERATOR_NODE_OPTIONS ?? '').split(/\s+/).filter(Boolean)

/**
 * The generator runs compiled, not through tsx: tsx's module hooks run on a
 * thread of their own, whose isolate, idle once the modules are loaded, is
 * collected by V8's memory reducer some seconds later, in the middle of the
 * measured window, on the generator's one core (bench/LIMITS.md, tail
 * latency). Compiled once per harness process, from this checkout.
 */
let compiled = false
function generatorScript(root: string): string {
  if (!compiled) {
    const error = compileTypeScript(root, TSCONFIG)
    if (error !== undefined) throw new Error(`the load generator did not compile: ${error}`)
    compiled = true
  }
  return GENERATOR
}

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
  const script = generatorScript(root)
  const spawned = spawnPinned({
    cpu: GENERATOR_CPU,
    command: process.execPath,
    args: [...GENERATOR_NODE_OPTIONS, script, JSON.stringify(job)],
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
