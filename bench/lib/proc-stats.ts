import { execFileSync } from 'node:child_process'
import { readdirSync, readFileSync } from 'node:fs'

let ticksPerSecond: number | undefined

/** The kernel's clock tick (`getconf CLK_TCK`), the unit of utime and stime in /proc/<pid>/stat. */
export function clockTicksPerSecond(): number {
  if (ticksPerSecond === undefined) {
    const text = execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()
    const value = Number(text)
    if (!Number.isInteger(value) || value <= 0) throw new Error(`getconf CLK_TCK printed "${text}", not a tick rate`)
    ticksPerSecond = value
  }
  return ticksPerSecond
}

/** CPU seconds (user + system, all threads) a process has used so far. */
export function cpuSeconds(pid: number): number {
  const { user, system } = cpuTimes(pid)
  return user + system
}

/** CPU seconds a process has used so far in user space and in the kernel (all threads). */
export function cpuTimes(pid: number): { user: number; system: number } {
  const fields = statFields(pid)
  // After the name, field 3 (state) is index 0, so utime (14) and stime (15) are 11 and 12.
  const ticks = clockTicksPerSecond()
  return { user: Number(fields[11]) / ticks, system: Number(fields[12]) / ticks }
}

/** One process of the broker side, named for the report: `broker`, or a cluster's `node-a`, `redis`. */
export interface NamedProcess {
  name: string
  pid: number
}

/**
 * CPU seconds a process and its children have used so far: its own (all
 * threads), its children's that it has waited for (cutime and cstime), and
 * those of children still running (read from each child's /proc entry). A
 * child that started before one reading and was reaped before the next is
 * then counted once, in full: Redis forks to rewrite its append-only file,
 * and that work is part of what Redis costs per message. Finding the
 * children reads every /proc/<n>/stat (about 5 ms here): only for the
 * processes that fork.
 */
export function cpuTimesWithChildren(pid: number): { user: number; system: number } {
  const ticks = clockTicksPerSecond()
  const own = statFields(pid)
  // cutime (16) and cstime (17) are indexes 13 and 14.
  let user = Number(own[11]) + Number(own[13])
  let system = Number(own[12]) + Number(own[14])
  for (const child of childrenOf(pid)) {
    try {
      const fields = statFields(child)
      user += Number(fields[11]) + Number(fields[13])
      system += Number(fields[12]) + Number(fields[14])
    } catch {
      // Exited since the listing.
    }
  }
  return { user: user / ticks, system: system / ticks }
}

/** The fields of /proc/<pid>/stat after the command name, which may itself hold spaces and parentheses. */
function statFields(pid: number): string[] {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ')
}

/**
 * The pids whose parent is `pid`, found by reading every /proc/<n>/stat
 * (this kernel has no /proc/<pid>/task/<tid>/children).
 */
function childrenOf(pid: number): number[] {
  const children: number[] = []
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    try {
      // ppid (4) is index 1.
      if (Number(statFields(Number(entry))[1]) === pid) children.push(Number(entry))
    } catch {
      // Exited since the listing.
    }
  }
  return children
}

/**
 * Read and write system calls a process has made so far (syscr and syscw of
 * /proc/<pid>/io; readable for a process of the same user). Per delivery
 * they show how well the broker batches its socket writes.
 */
export function syscalls(pid: number): { reads: number; writes: number } {
  const io = readFileSync(`/proc/${pid}/io`, 'utf8')
  const field = (name: string) => {
    const match = new RegExp(`^${name}:\\s+(\\d+)$`, 'm').exec(io)
    if (!match) throw new Error(`no ${name} in /proc/${pid}/io`)
    return Number(match[1])
  }
  return { reads: field('syscr'), writes: field('syscw') }
}

/** Resident set size in KiB (VmRSS of /proc/<pid>/status). */
export function rssKb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8')
  const match = /^VmRSS:\s+(\d+) kB/m.exec(status)
  if (!match) throw new Error(`no VmRSS in /proc/${pid}/status`)
  return Number(match[1])
}

/**
 * CPU seconds all cores have spent busy since boot (the `cpu` line of
 * /proc/stat, idle and iowait left out). Compared with the broker's and the
 * generator's own time, it shows how much else was running.
 */
export function machineBusySeconds(): number {
  const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!
  // cpu user nice system idle iowait irq softirq steal ...
  const [, user, nice, system, , , irq, softirq, steal] = line.trim().split(/\s+/).map(Number)
  return (user! + nice! + system! + irq! + softirq! + (steal ?? 0)) / clockTicksPerSecond()
}

/** The 1-minute load average. */
export function loadAverage(): number {
  return Number(readFileSync('/proc/loadavg', 'utf8').split(' ')[0])
}
