/**
 * The load generator process: `node bench/.generator-build/load/generator.js '<job JSON>'`,
 * compiled from here by load/run-generator.ts.
 * It runs apart from the harness so it can be pinned to its own core, and
 * prints its result as the last line of stdout: `{"result": ...}` or
 * `{"error": "..."}`.
 */
import { runHttpInvoke } from './http-invoke.js'
import { runIdleConnections } from './idle-connections.js'
import type { LoadJob, LoadResult } from './job.js'
import { runPubSub } from './pubsub-load.js'

function run(job: LoadJob): Promise<LoadResult> {
  switch (job.kind) {
    case 'pubsub':
      return runPubSub(job)
    case 'idle':
      return runIdleConnections(job)
    case 'http-invoke':
      return runHttpInvoke(job)
  }
}

const job = JSON.parse(process.argv[2] ?? 'null') as LoadJob | null
if (!job) {
  process.stderr.write('usage: generator.js <job JSON>\n')
  process.exit(2)
}

try {
  const result = await run(job)
  process.stdout.write(`${JSON.stringify({ result })}\n`)
  process.exitCode = 0
} catch (err) {
  process.stdout.write(`${JSON.stringify({ error: err instanceof Error ? err.message : String(err) })}\n`)
  process.exitCode = 1
}
// Sockets still closing must not hold the run up.
setTimeout(() => process.exit(), 200).unref()
