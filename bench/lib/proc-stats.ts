import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'

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

/**
 * CPU seconds (user + system, all threads) a process has used so far.
 * The fields are counted after the last ')' because the command name in
 * parentheses may itself contain spaces and parentheses.
 */
export function cpuSeconds(pid: number): number {
  const { user, system } = cpuTimes(pid)
  return user + system
}

/** CPU seconds a process has used so far in user space and in the kernel (all threads). */
export function cpuTimes(pid: number): { user: number; system: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  // After the name, field 3 (state) is index 0, so utime (14) and stime (15) are 11 and 12.
  const ticks = clockTicksPerSecond()
  return { user: Number(fields[11]) / ticks, system: Number(fields[12]) / ticks }
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
