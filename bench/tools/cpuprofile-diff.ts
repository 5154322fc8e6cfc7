/**
 * Self time by function in two V8 CPU profiles (`node --cpu-prof`, as
 * BENCH_BROKER_NODE_OPTIONS makes them), side by side: what one build, rule
 * set or load spends more or less on than the other.
 *
 *   npx tsx bench/tools/cpuprofile-diff.ts A.cpuprofile B.cpuprofile [--window-ms 6000] [--top 40] [--by function|file|package] [--match TEXT] [--per A_US,B_US] [--lines TEXT]
 *
 * Shares are of the busy time (every sample but `(idle)`) within the
 * busiest `--window-ms` of each profile (the whole profile without it), so
 * that start-up and the generator's connecting and draining do not weigh
 * in, and two profiles of different lengths compare. `--per 15.2,17.9`
 * (the runs' CPU per delivery, in µs) shows each share as µs per delivery
 * instead: the share of the main thread's time times the whole process'
 * CPU per delivery, which counts V8's helper threads in with the main
 * thread's shares. `--match` lists the functions whose name or
 * place (as listed) contains TEXT, with the time of what they call (inclusive
 * time: each sample counted once per function on its stack; a callback run
 * at once counts under whoever called it). `--lines TEXT` shows the
 * self time of those functions line by line (V8's position ticks, over the
 * whole profile): where in a function the time goes, an allocation or a
 * call, which function self time cannot tell.
 */
import { readFileSync } from 'node:fs'
import { parseArgs } from 'node:util'

interface CallFrame {
  functionName: string
  url: string
  lineNumber: number
}

interface ProfileNode {
  id: number
  callFrame: CallFrame
  children?: number[]
  hitCount?: number
  positionTicks?: Array<{ line: number; ticks: number }>
}

interface CpuProfile {
  nodes: ProfileNode[]
  samples: number[]
  timeDeltas: number[]
}

type By = 'function' | 'file' | 'package'

/** Where a frame's code lives, shortened: the package under node_modules, Node's own, or the path after dist/. */
function place(url: string): string {
  if (url === '') return ''
  if (url.startsWith('node:')) return url
  const modules = url.lastIndexOf('/node_modules/')
  if (modules >= 0) return url.slice(modules + '/node_modules/'.length)
  const dist = url.lastIndexOf('/dist/')
  return dist >= 0 ? `switchyard/${url.slice(dist + '/dist/'.length)}` : url.replace(/^file:\/\//, '')
}

/** The package a frame's code is in; V8's and Node's native functions (the collector, writev) by name. */
function packageOf(frame: CallFrame): string {
  const at = place(frame.url)
  if (at === '') return frame.functionName.startsWith('(') ? frame.functionName : `native ${frame.functionName}`
  if (at.startsWith('node:')) return 'node'
  if (at.startsWith('switchyard/')) return `switchyard/${at.split('/')[1]}`
  const parts = at.split('/')
  return parts[0]!.startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0]!
}

function keyOf(frame: CallFrame, by: By): string {
  if (by === 'package') return packageOf(frame)
  if (by === 'file') return place(frame.url) || frame.functionName
  const name = frame.functionName || '(anonymous)'
  const at = place(frame.url)
  return at ? `${name} ${at}:${frame.lineNumber + 1}` : name
}

interface Summary {
  /** Busy µs in the window. */
  busyUs: number
  windowUs: number
  self: Map<string, number>
  inclusive: Map<string, number>
}

/** The start and end sample (end exclusive) of the `windowUs` with the least idle time. */
function busiestWindow(times: number[], idle: boolean[], windowUs: number): [number, number] {
  if (windowUs <= 0) return [0, times.length]
  let best: [number, number] = [0, times.length]
  let bestBusy = -1
  let busy = 0
  let start = 0
  for (let end = 0; end < times.length; end++) {
    if (!idle[end]) busy += weight(times, end)
    while (times[end]! - times[start]! > windowUs) {
      if (!idle[start]) busy -= weight(times, start)
      start++
    }
    if (busy > bestBusy) {
      bestBusy = busy
      best = [start, end + 1]
    }
  }
  return best
}

/** A sample stands for the time until the next one. */
function weight(times: number[], i: number): number {
  return i + 1 < times.length ? times[i + 1]! - times[i]! : 0
}

function summarize(file: string, by: By, windowMs: number, match: string | undefined): Summary {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile
  const byId = new Map(profile.nodes.map((n) => [n.id, n]))
  const parent = new Map<number, number>()
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id)
  const times: number[] = []
  let t = 0
  for (const d of profile.timeDeltas) times.push((t += d))
  const idle = profile.samples.map((id) => byId.get(id)!.callFrame.functionName === '(idle)')
  const [from, to] = busiestWindow(times, idle, windowMs * 1000)
  const self = new Map<string, number>()
  const inclusive = new Map<string, number>()
  let busyUs = 0
  for (let i = from; i < to; i++) {
    if (idle[i]) continue
    const us = weight(times, i)
    busyUs += us
    const node = byId.get(profile.samples[i]!)!
    const key = keyOf(node.callFrame, by)
    self.set(key, (self.get(key) ?? 0) + us)
    if (match === undefined) continue
    const seen = new Set<string>()
    for (let id: number | undefined = node.id; id !== undefined; id = parent.get(id)) {
      const frame = byId.get(id)!.callFrame
      const k = keyOf(frame, by)
      if (seen.has(k) || !k.includes(match)) continue
      seen.add(k)
      inclusive.set(k, (inclusive.get(k) ?? 0) + us)
    }
  }
  return { busyUs, windowUs: times[to - 1]! - times[from]!, self, inclusive }
}

/** Shares of busy time in percent, or µs per delivery with `--per`. */
interface Scale {
  a: number
  b: number
  unit: string
}

function table(title: string, a: Summary, b: Summary, pick: (s: Summary) => Map<string, number>, top: number, scale: Scale): void {
  const keys = new Set([...pick(a).keys(), ...pick(b).keys()])
  const rows = [...keys].map((key) => {
    const x = ((pick(a).get(key) ?? 0) / a.busyUs) * scale.a
    const y = ((pick(b).get(key) ?? 0) / b.busyUs) * scale.b
    return { key, x, y, d: y - x }
  })
  rows.sort((p, q) => Math.abs(q.d) - Math.abs(p.d))
  const sum = (pickOf: 'x' | 'y') => rows.reduce((t, r) => t + r[pickOf], 0)
  const cell = (v: number, sign = false) => `${sign && v >= 0 ? '+' : ''}${v.toFixed(2)}`.padStart(8)
  console.log(`\n${title}, in ${scale.unit}: A, B, B - A (largest changes first)`)
  for (const r of rows.slice(0, top)) console.log(`${cell(r.x)} ${cell(r.y)} ${cell(r.d, true)}  ${r.key}`)
  if (pick === selfOf) console.log(`${cell(sum('x'))} ${cell(sum('y'))} ${cell(sum('y') - sum('x'), true)}  (all)`)
}

const selfOf = (s: Summary) => s.self

/** Samples by line of the functions whose key contains `match`, as shares of the profile's busy samples. */
function lineShares(file: string, by: By, match: string): Map<string, number> {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile
  const busy = profile.nodes.reduce((t, n) => t + (n.callFrame.functionName === '(idle)' ? 0 : (n.hitCount ?? 0)), 0)
  const lines = new Map<string, number>()
  for (const node of profile.nodes) {
    const key = keyOf(node.callFrame, by)
    if (!key.includes(match)) continue
    for (const { line, ticks } of node.positionTicks ?? []) {
      const at = `${key} line ${line}`
      lines.set(at, (lines.get(at) ?? 0) + ticks / busy)
    }
  }
  return lines
}

function lineTable(match: string, a: Map<string, number>, b: Map<string, number>, top: number): void {
  const keys = [...new Set([...a.keys(), ...b.keys()])].sort((p, q) => Math.max(b.get(q) ?? 0, a.get(q) ?? 0) - Math.max(b.get(p) ?? 0, a.get(p) ?? 0))
  console.log(`\nSelf time by line of functions matching "${match}", in % of busy samples (whole profiles): A, B`)
  for (const key of keys.slice(0, top)) console.log(`${((a.get(key) ?? 0) * 100).toFixed(2).padStart(8)} ${((b.get(key) ?? 0) * 100).toFixed(2).padStart(8)}  ${key}`)
}

function main(): void {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: { 'window-ms': { type: 'string' }, top: { type: 'string' }, by: { type: 'string' }, match: { type: 'string' }, per: { type: 'string' }, lines: { type: 'string' } },
  })
  if (positionals.length !== 2) throw new Error('usage: cpuprofile-diff.ts A.cpuprofile B.cpuprofile [--window-ms N] [--top N] [--by function|file|package] [--match TEXT] [--per A_US,B_US] [--lines TEXT]')
  const by = (values.by ?? 'function') as By
  if (!['function', 'file', 'package'].includes(by)) throw new Error('--by is function, file or package')
  const windowMs = Number(values['window-ms'] ?? 0)
  const top = Number(values.top ?? 40)
  const per = values.per?.split(',').map(Number)
  if (per && (per.length !== 2 || per.some((x) => !(x > 0)))) throw new Error('--per takes the two runs\' CPU per delivery in µs, e.g. --per 15.2,17.9')
  const scale: Scale = per ? { a: per[0]!, b: per[1]!, unit: 'µs per delivery' } : { a: 100, b: 100, unit: '% of busy time' }
  const [a, b] = positionals.map((file) => summarize(file, by, windowMs, values.match))
  for (const [name, s, file] of [['A', a!, positionals[0]], ['B', b!, positionals[1]]] as const) {
    console.log(`${name}: ${file}: busy ${(s.busyUs / 1000).toFixed(0)} ms of a ${(s.windowUs / 1000).toFixed(0)} ms window (${((s.busyUs / s.windowUs) * 100).toFixed(1)} %)`)
  }
  table('Self time', a!, b!, selfOf, top, scale)
  if (values.match !== undefined) table(`Inclusive time of functions matching "${values.match}"`, a!, b!, (s) => s.inclusive, top, scale)
  if (values.lines !== undefined) lineTable(values.lines, lineShares(positionals[0]!, 'function', values.lines), lineShares(positionals[1]!, 'function', values.lines), top)
}

main()
