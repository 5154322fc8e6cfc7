/**
 * Where an idle connection's memory goes: starts one broker as the
 * benchmark does (pinned to core 0, with `--heapsnapshot-signal=SIGUSR2`),
 * optionally runs scenario 1's fan-out on it first (as scenario 8's cases
 * after load do), takes a heap snapshot, opens idle connections (CONNECT
 * with keepalive 0, CONNACK awaited), takes another, and prints what the
 * second holds that the first did not, per connection and by constructor
 * (heap-snapshot.ts). RSS is the benchmark's figure: writing a snapshot
 * takes memory that the broker then keeps.
 *
 *   npx tsc -p tsconfig.build.json
 *   flock /tmp/bench.lock taskset -c 1 node --max-old-space-size=4096 --import tsx bench/tools/idle-heap.ts \
 *     --peer switchyard --transport ws --connections 3000 --loaded --dir /tmp/idle-heap
 *
 * `--peer aedes` runs plain Aedes (bench/peers/plain-aedes.mjs) instead.
 * The snapshots stay in a folder of `--dir` (DevTools opens them); each
 * forces a full garbage collection first, so they hold live objects only.
 */
import { mkdirSync, readdirSync, statSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { killChildrenOnExit } from '../lib/child-processes.js'
import { rssKb } from '../lib/proc-stats.js'
import { tcpOpener, webSocketOpener, type Opened } from '../load/idle-connections.js'
import { runPubSub } from '../load/pubsub-load.js'
import type { RunningPeer } from '../peers/peer.js'
import { pubSubJob } from '../scenarios/pubsub-case.js'
import { heapGrowth, readHeapSnapshot } from './heap-snapshot.js'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))

const { values } = parseArgs({
  options: {
    peer: { type: 'string', default: 'switchyard' },
    transport: { type: 'string', default: 'ws' },
    connections: { type: 'string', default: '3000' },
    loaded: { type: 'boolean', default: false },
    dir: { type: 'string', default: '/tmp/idle-heap' },
    top: { type: 'string', default: '40' },
    quiet: { type: 'string', default: '3000' },
  },
  strict: true,
})
const dir = resolve(values.dir!)
const n = Number(values.connections)
mkdirSync(dir, { recursive: true })
const cwd = join(dir, `${values.peer}-${values.transport}${values.loaded ? '-loaded' : ''}`)
mkdirSync(cwd, { recursive: true })
// The peers read their Node options when loaded.
process.env.BENCH_BROKER_NODE_OPTIONS = `${process.env.BENCH_BROKER_NODE_OPTIONS ?? ''} --heapsnapshot-signal=SIGUSR2 --diagnostic-dir=${cwd}`
const { startSwitchyard } = await import('../peers/switchyard.js')
const { plainAedesPeer } = await import('../peers/plain-aedes.js')
killChildrenOnExit()

/** Waits until the broker's RSS has moved by less than 1 % over `values.quiet` ms (at most a minute). */
async function quiet(pid: number): Promise<number> {
  const span = Number(values.quiet)
  const until = Date.now() + 60_000
  let last = rssKb(pid)
  for (;;) {
    await sleep(span)
    const now = rssKb(pid)
    if (Math.abs(now - last) < last / 100 || Date.now() > until) return now
    last = now
  }
}

/** Signals the broker and waits for its snapshot file to be complete. */
async function snapshot(peer: RunningPeer, cwd: string): Promise<string> {
  const before = new Set(readdirSync(cwd))
  process.kill(peer.pid, 'SIGUSR2')
  for (;;) {
    await sleep(500)
    const file = readdirSync(cwd).find((f) => f.endsWith('.heapsnapshot') && !before.has(f))
    if (!file) continue
    const path = join(cwd, file)
    const size = statSync(path).size
    await sleep(1000)
    if (statSync(path).size === size && size > 0) return path
  }
}

const peer: RunningPeer = values.peer === 'aedes'
  ? await plainAedesPeer(ROOT).start({ workDir: cwd, websocket: true })
  : await startSwitchyard({ dir: ROOT }, {}, cwd)
try {
  const rssEmpty = await quiet(peer.pid)
  if (values.loaded) {
    const load = await runPubSub(pubSubJob({ qos: 0, publishers: 10, subscribers: 10 }, peer, { warmupMs: 1000, measureMs: 4000, drainMs: 10_000 }))
    console.log(`load: ${load.received} deliveries, ${load.lost} lost; RSS ${(rssEmpty / 1024).toFixed(1)} MB before it`)
  }
  const rssBefore = await quiet(peer.pid)
  const first = await snapshot(peer, cwd)
  const open = values.transport === 'tcp' ? tcpOpener(peer.mqttPort) : webSocketOpener(peer.wsUrl!)
  const opened: Opened[] = []
  let next = 0
  await Promise.all(Array.from({ length: 50 }, async () => {
    while (next < n) {
      const c = await open(`idle-heap-${next++}`)
      if (typeof c === 'string') throw new Error(c)
      opened.push(c)
    }
  }))
  await quiet(peer.pid)
  const second = await snapshot(peer, cwd)
  const a = readHeapSnapshot(first)
  const b = readHeapSnapshot(second)
  const kb = (bytes: number) => (bytes / 1024).toFixed(2)
  console.log(`${values.peer}, ${n} idle ${values.transport} connections${values.loaded ? ' after load' : ''}`)
  // Writing a snapshot takes memory of its own, which the broker keeps: RSS
  // after the first snapshot says nothing, the benchmark measures it.
  console.log(`RSS before the first snapshot: ${(rssBefore / 1024).toFixed(1)} MB`)
  console.log(`heap (live objects): ${(a.totalBytes / 1048576).toFixed(1)} MB before, ${(b.totalBytes / 1048576).toFixed(1)} MB after: ${kb((b.totalBytes - a.totalBytes) / n)} KB a connection`)
  console.log(`snapshots: ${first} ${second}`)
  console.log('\nper connection: new objects, their bytes (KB), the net change of the group (KB)')
  for (const g of heapGrowth(a, b).slice(0, Number(values.top))) {
    console.log(`${(g.newObjects / n).toFixed(2).padStart(8)} ${kb(g.newBytes / n).padStart(8)} ${kb(g.netBytes / n).padStart(8)}  ${g.group}`)
  }
  for (const c of opened) c.close()
} finally {
  await peer.stop()
}
