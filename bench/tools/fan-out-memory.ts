/**
 * Where a broker's memory goes before, during and after scenario 1's
 * fan-out (10 publishers to 10 subscribers on `bench/+/x`), from
 * /proc/<pid>/smaps (brk heap, anonymous mappings, thread stacks, the
 * executable, libraries, other files) and from V8's account of its heap,
 * written by bench/tools/memory-probe.mjs inside the broker.
 *
 *   npx tsc -p tsconfig.build.json
 *   flock /tmp/bench.lock npx tsx bench/tools/fan-out-memory.ts --peers switchyard,aedes --qos 1 --out /tmp/mem
 *
 * Options: --seconds N (the measured window, 8), --after N (how long the
 * readings go on once the clients have gone, 30 s), --build DIR (a folder
 * with bin/ and dist/ of another build, e.g. a worktree of main),
 * --snapshots (heap snapshots in --out before the load, 6 s into it and at
 * the end, through --heapsnapshot-signal: the readings after one include
 * what writing it cost), --node-options '...' (more flags for the broker).
 * Prints a table per peer and writes every reading to --out as JSON.
 */
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { rssParts, type RssParts } from '../lib/smaps.js'

const ROOT = dirname(dirname(dirname(fileURLToPath(import.meta.url))))
const PROBE = fileURLToPath(new URL('./memory-probe.mjs', import.meta.url))

const { values } = parseArgs({
  options: {
    peers: { type: 'string', default: 'switchyard,aedes' },
    qos: { type: 'string', default: '1' },
    seconds: { type: 'string', default: '8' },
    after: { type: 'string', default: '30' },
    out: { type: 'string', default: '/tmp/fan-out-memory' },
    build: { type: 'string' },
    snapshots: { type: 'boolean', default: false },
    'node-options': { type: 'string', default: '' },
  },
})
const out = resolve(values.out!)
mkdirSync(out, { recursive: true })
const memoryFile = (peer: string) => join(out, `${peer}-qos${values.qos}-v8.jsonl`)

interface Reading {
  phase: string
  /** Seconds since the broker listened. */
  t: number
  parts: RssParts
  v8: V8Reading | undefined
}

interface V8Reading {
  at: number
  rssKb: number
  physicalKb: number
  mallocedKb: number
  externalKb: number
  arrayBuffersKb: number
  spaces: Record<string, { sizeKb: number; usedKb: number; physicalKb: number }>
}

const lastV8 = (file: string): V8Reading | undefined => {
  try {
    const lines = readFileSync(file, 'utf8').trim().split('\n')
    return JSON.parse(lines.at(-1)!) as V8Reading
  } catch {
    return undefined
  }
}

const mb = (kb: number | undefined) => (kb === undefined ? '–' : (kb / 1024).toFixed(1))

function table(peer: string, readings: Reading[]): string {
  const head = ['phase', 't s', 'RSS', 'brk heap', 'anon', 'stacks', 'node exe', 'libs', 'files', 'V8 physical', 'new', 'old', 'code', 'large obj', 'malloced', 'array buffers']
  const rows = readings.map(({ phase, t, parts, v8 }) => {
    const space = (name: string) => mb(v8?.spaces[name]?.physicalKb)
    return [phase, t.toFixed(1), mb(parts.rssKb), mb(parts.brkHeapKb), mb(parts.anonKb), `${mb(parts.threadStacksKb)} (${parts.threadStacks})`, mb(parts.executableKb), mb(parts.librariesKb), mb(parts.otherFilesKb),
      mb(v8?.physicalKb), space('new_space'), space('old_space'), space('code_space'), space('large_object_space'), mb(v8?.mallocedKb), mb(v8?.arrayBuffersKb)]
  })
  return [`## ${peer}, QoS ${values.qos} (MB)`, '', `| ${head.join(' | ')} |`, `|${head.map(() => ' ---').join(' |')} |`, ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n')
}

async function measurePeer(peerId: string): Promise<Reading[]> {
  const flags = [`--import=${PROBE}`, ...(values.snapshots ? ['--heapsnapshot-signal=SIGUSR2', `--diagnostic-dir=${out}`] : []), ...values['node-options']!.split(/\s+/).filter(Boolean)]
  process.env.BENCH_BROKER_NODE_OPTIONS = flags.join(' ')
  process.env.BENCH_MEMORY_FILE = memoryFile(peerId)
  rmSync(memoryFile(peerId), { force: true })
  // Read at import: the environment above must be set first.
  const { createPeers } = await import('../peers/registry.js')
  const { runGenerator } = await import('../load/run-generator.js')
  const { pubSubCase } = await import('../scenarios/pubsub-case.js')
  const build = { dir: values.build ? resolve(values.build) : ROOT }
  const peers = createPeers(ROOT, { current: build, baseline: { build, name: 'other' } }) as Record<string, { start: (o: { workDir: string; websocket: boolean }) => Promise<import('../peers/peer.js').RunningPeer> }>
  const peer = peers[peerId]
  if (!peer) throw new Error(`no peer ${peerId}`)
  const workDir = mkdtempSync(join(tmpdir(), `fan-out-memory-${peerId}-`))
  const running = await peer.start({ workDir, websocket: false })
  const t0 = Date.now()
  const readings: Reading[] = []
  const read = (phase: string) => readings.push({ phase, t: (Date.now() - t0) / 1000, parts: rssParts(running.pid, process.execPath), v8: lastV8(memoryFile(peerId)) })
  try {
    await sleep(2000)
    read('started')
    const snapshot = async (name: string) => {
      if (!values.snapshots) return
      const before = new Set(readdirSync(out))
      process.kill(running.pid, 'SIGUSR2')
      // Written when the file's name appears and its size stops moving.
      for (let i = 0; i < 600 && readdirSync(out).every((f) => before.has(f) || !f.endsWith('.heapsnapshot')); i++) await sleep(100)
      await sleep(3000)
      const file = readdirSync(out).find((f) => !before.has(f) && f.endsWith('.heapsnapshot'))
      if (file) writeFileSync(join(out, `${peerId}-qos${values.qos}-${name}.txt`), file)
    }
    await snapshot('idle')
    const qos = Number(values.qos) as 0 | 1
    const benchCase = pubSubCase({ id: 'mem', label: 'mem', peers: [], qos, publishers: 10, subscribers: 10 })
    const mode = { quick: false, rounds: 1, warmupMs: 2000, measureMs: Number(values.seconds) * 1000, drainMs: 15_000 }
    let loading = true
    const sampler = (async () => {
      for (let i = 0; loading; i++) {
        await sleep(1000)
        if (!loading) break
        read('load')
        // In the middle of the window: what a delivery in flight holds.
        if (values.snapshots && i === 5) process.kill(running.pid, 'SIGUSR2')
      }
    })()
    const result = await benchCase.measure(running, { mode, runLoad: (job) => runGenerator(job, ROOT) })
    loading = false
    await sampler
    if (result.kind === 'pubsub') console.log(`${peerId}: ${result.brokerCpuUsPerDelivery.toFixed(2)} µs/delivery, ${Math.round(result.deliveriesPerSecond)} deliveries/s, lost ${result.lost}, RSS at the window's end ${mb(result.brokerRssKb)} MB`)
    const after = Date.now()
    for (const s of [1, 3, 5, 10, 15, 20, 30, 45, 60, 90, 120].filter((x) => x <= Number(values.after))) {
      await sleep(Math.max(0, after + s * 1000 - Date.now()))
      read(`after +${s} s`)
    }
    await snapshot('after')
  } finally {
    await running.stop()
    rmSync(workDir, { recursive: true, force: true })
  }
  return readings
}

const report: string[] = []
for (const peerId of values.peers!.split(',')) {
  const readings = await measurePeer(peerId)
  writeFileSync(join(out, `${peerId}-qos${values.qos}-smaps.json`), JSON.stringify(readings, null, 1))
  const text = table(peerId, readings)
  console.log(`\n${text}\n`)
  report.push(text)
}
writeFileSync(join(out, `report-qos${values.qos}.md`), `${report.join('\n\n')}\n`)
