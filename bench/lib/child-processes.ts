import { execFileSync, spawn, type ChildProcess } from 'node:child_process'
import { createWriteStream, mkdirSync } from 'node:fs'
import { cpus } from 'node:os'
import { basename, join } from 'node:path'

/**
 * Every process the harness starts goes through here, so that all of them can
 * be ended on exit, on Ctrl-C and on errors: a benchmark must not leave a
 * broker behind. Processes are ended by their own pid only.
 */

const children = new Set<ChildProcess>()
// Idle WebSocket runs hold thousands of sockets; the hard limit here may be lower.
const WANTED_FD_LIMIT = 65536

export interface SpawnOptions {
  /** The core to pin the process to (`taskset -c`). */
  cpu: number
  command: string
  args: readonly string[]
  cwd?: string
  env?: NodeJS.ProcessEnv
}

export interface Spawned {
  child: ChildProcess
  /** The last lines the process wrote, for error messages. */
  output(): string
  /** Set once the process has exited. */
  exit: { code: number | null; signal: NodeJS.Signals | null } | undefined
  exited: Promise<void>
}

/**
 * Pins this process, every thread of it, to the cores other than
 * `brokerCpu`; the processes it starts without a core of their own inherit
 * that. The harness samples /proc, reads SQLite files and writes reports
 * while a broker is measured: left to the scheduler, it took the broker's
 * core now and then, for a tick of 4 ms in the middle of one of its turns
 * (bench/LIMITS.md, the store action's longest stall). Returns the cores,
 * or undefined on a machine with no other core.
 */
export function pinThisProcessAwayFrom(brokerCpu: number): string | undefined {
  const others = Array.from({ length: cpus().length }, (_, cpu) => cpu).filter((cpu) => cpu !== brokerCpu)
  if (others.length === 0) return undefined
  const cores = others.join(',')
  execFileSync('taskset', ['--all-tasks', '--cpu-list', '--pid', cores, String(process.pid)], { stdio: 'ignore' })
  return cores
}

/**
 * Starts a process pinned to one core with a raised descriptor limit.
 * `ulimit` is a shell builtin, so the command goes through `sh -c`; each
 * `exec` replaces the process, so the child's pid is the program's own pid
 * (the one whose /proc entries are read).
 */
export function spawnPinned(options: SpawnOptions): Spawned {
  const script = `n=$(ulimit -Hn); if [ "$n" = unlimited ] || [ "$n" -gt ${WANTED_FD_LIMIT} ]; then n=${WANTED_FD_LIMIT}; fi; ulimit -n "$n"; exec taskset -c ${options.cpu} "$0" "$@"`
  const child = spawn('sh', ['-c', script, options.command, ...options.args], {
    cwd: options.cwd,
    env: options.env ?? process.env,
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  children.add(child)
  let tail = ''
  const keep = (chunk: Buffer) => {
    tail = (tail + chunk.toString('utf8')).slice(-8192)
  }
  child.stdout!.on('data', keep)
  child.stderr!.on('data', keep)
  // BENCH_PROCESS_LOG_DIR keeps every process's whole output (a broker's --trace-gc lines), one file per pid.
  const logDir = process.env.BENCH_PROCESS_LOG_DIR
  if (logDir && child.pid !== undefined) {
    mkdirSync(logDir, { recursive: true })
    const file = createWriteStream(join(logDir, `${basename(options.command)}-${child.pid}.log`))
    child.stdout!.pipe(file)
    child.stderr!.pipe(file)
  }
  const spawned: Spawned = {
    child,
    output: () => tail,
    exit: undefined,
    exited: new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        children.delete(child)
        spawned.exit = { code, signal }
        resolve()
      })
      child.once('error', (err) => {
        children.delete(child)
        tail += `\n${err.message}`
        spawned.exit = { code: null, signal: null }
        resolve()
      })
    }),
  }
  return spawned
}

/** SIGTERM, then SIGKILL if the process has not exited within `graceMs`. */
export async function stopProcess(spawned: Spawned, graceMs = 5000): Promise<void> {
  if (spawned.exit) return
  spawned.child.kill('SIGTERM')
  const timer = setTimeout(() => spawned.child.kill('SIGKILL'), graceMs)
  await spawned.exited
  clearTimeout(timer)
}

function killAll(): void {
  for (const child of children) {
    try {
      child.kill('SIGKILL')
    } catch {
      // Already gone.
    }
  }
  children.clear()
}

/** Ends every child when the harness exits, however it exits. */
export function killChildrenOnExit(): void {
  process.on('exit', killAll)
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(signal, () => {
      killAll()
      process.exit(130)
    })
  }
  process.on('uncaughtException', (err) => {
    killAll()
    console.error(err)
    process.exit(1)
  })
  process.on('unhandledRejection', (err) => {
    killAll()
    console.error(err)
    process.exit(1)
  })
}
