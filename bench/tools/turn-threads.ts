/**
 * The broker's longest turns of the event loop (turn-probe.mjs) beside the
 * threads that held its core during each: whether a long turn was the main
 * thread's own work, a collection, or a wait while another thread ran.
 *
 *   perf record -e sched:sched_switch -C 0 -k mono -o sched.data -- sleep 14   (during the run; core 0 is the broker's)
 *   perf script -i sched.data > sched.txt
 *   npx tsx bench/tools/turn-threads.ts TURNS.txt sched.txt [--window START,END] [--top 12]
 *
 * `--window` takes the generator's measured window in ms since the epoch
 * (results.json: windowStartedAt, windowEndedAt); without it every turn
 * counts. Threads are named `comm/tid`: all of a Node.js process's threads
 * are `node`, and the main thread's tid is the process id.
 */
import { readFileSync } from 'node:fs'
import { parseArgs } from 'node:util'

interface Switch {
  at: number
  next: string
}

const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: { window: { type: 'string' }, top: { type: 'string', default: '12' } },
})
const [turnsFile, schedFile] = positionals
if (!turnsFile || !schedFile) {
  console.error('usage: turn-threads.ts TURNS.txt SCHED.txt [--window START,END] [--top N]')
  process.exit(2)
}

const lines = readFileSync(turnsFile, 'utf8').split('\n').filter(Boolean).map((l) => l.split(' '))
const anchor = lines.find((l) => l[0] === 'anchor')
if (!anchor) throw new Error(`${turnsFile} has no anchor line: not written by turn-probe.mjs`)
// Wall clock (ms since the epoch) to CLOCK_MONOTONIC ms.
const toMono = (wall: number) => wall - Number(anchor[1]) + Number(anchor[2])
const [from, to] = values.window ? values.window.split(',').map((ms) => toMono(Number(ms))) : [-Infinity, Infinity]
const within = (at: number) => at >= from! && at <= to!

const switches: Switch[] = []
const pattern = /(\d+\.\d+): +sched:sched_switch: .*==> next_comm=(.*?) next_pid=(\d+)/
for (const line of readFileSync(schedFile, 'utf8').split('\n')) {
  const m = pattern.exec(line)
  if (m) switches.push({ at: Number(m[1]) * 1000, next: `${m[2]}/${m[3]}` })
}
if (switches.length === 0) throw new Error(`${schedFile} has no sched_switch events`)

/** Who held the core between `start` and `end`, in ms each. */
function holders(start: number, end: number): Map<string, number> {
  const held = new Map<string, number>()
  let i = switches.findIndex((s) => s.at > start)
  if (i < 0) return held
  let on = i > 0 ? switches[i - 1]!.next : '?'
  let since = start
  for (; i < switches.length && switches[i]!.at < end; i++) {
    held.set(on, (held.get(on) ?? 0) + switches[i]!.at - since)
    on = switches[i]!.next
    since = switches[i]!.at
  }
  held.set(on, (held.get(on) ?? 0) + end - since)
  return held
}

const turns = lines.filter((l) => l[0] === 'turn' && within(Number(l[1])))
const collections = lines.filter((l) => l[0] === 'gc' && within(Number(l[1])))
const kinds: Record<string, string> = { 1: 'scavenge', 4: 'mark-compact', 8: 'incremental', 16: 'weak' }
const counted = new Map<string, number>()
for (const gc of collections) counted.set(kinds[gc[3]!] ?? gc[3]!, (counted.get(kinds[gc[3]!] ?? gc[3]!) ?? 0) + 1)
console.log(`${turns.length} turns over 7 ms; collections: ${[...counted].map(([k, n]) => `${k} ${n}`).join(', ') || 'none'}`)

for (const turn of turns.sort((a, b) => Number(b[2]) - Number(a[2])).slice(0, Number(values.top))) {
  const start = Number(turn[1])
  const end = start + Number(turn[2])
  const byThread = [...holders(start, end)].sort((a, b) => b[1] - a[1]).slice(0, 5).map(([t, ms]) => `${t} ${ms.toFixed(1)}`).join(', ')
  const gcs = collections.filter((g) => Number(g[1]) >= start - 1 && Number(g[1]) <= end).map((g) => `${kinds[g[3]!] ?? g[3]} ${g[2]} ms`)
  const at = Number.isFinite(from!) ? `+${Math.round(start - from!)} ms` : start.toFixed(0)
  console.log(`${at}: ${turn[2]} ms; core held by ${byThread}${gcs.length ? `; ${gcs.join(', ')}` : ''}`)
  console.log(`    ${turn.slice(8).join(' ').slice(0, 160)}`)
}
