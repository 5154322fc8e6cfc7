import { execFile, spawn, type ChildProcess } from 'node:child_process'
import { promisify } from 'node:util'

const run = promisify(execFile)

export interface ProgramOptions {
  /** Node.js flags, before the program (`--expose-gc`, `--log-maps`, …). */
  nodeFlags?: string[]
  /** The program's own arguments (`process.argv[1]` on). */
  args?: string[]
  /** Added to this process's environment; a key set to undefined is left out. */
  env?: Record<string, string | undefined>
  /**
   * Whether the program is TypeScript, loaded through tsx (the default).
   * A plain JavaScript program runs without it, and so without the worker
   * thread in which tsx loads TypeScript: for what counts a process's
   * threads or their heaps.
   */
  typescript?: boolean
}

/**
 * Runs `program`, an ES module in TypeScript, in a Node.js process of its
 * own (through tsx), for what only a fresh process shows: its heap, its
 * V8 flags, the modules it loads first. The test runner's NODE_OPTIONS
 * are not passed on. Rejects when the program exits with an error.
 */
export async function runProgram(program: string, options: ProgramOptions = {}): Promise<{ stdout: string; stderr: string }> {
  const [args, env] = commandLine(program, options)
  return run(process.execPath, args, { env })
}

/** As runProgram, started and left running: for a program watched while it runs, and ended by the caller. */
export function startProgram(program: string, options: ProgramOptions = {}): ChildProcess {
  const [args, env] = commandLine(program, options)
  return spawn(process.execPath, args, { env, stdio: ['ignore', 'pipe', 'pipe'] })
}

function commandLine(program: string, { nodeFlags = [], args = [], env = {}, typescript = true }: ProgramOptions): [string[], NodeJS.ProcessEnv] {
  const environment: NodeJS.ProcessEnv = { ...process.env, NODE_OPTIONS: '', ...env }
  for (const [key, value] of Object.entries(env)) if (value === undefined) delete environment[key]
  const loader = typescript ? ['--import', 'tsx'] : []
  return [[...nodeFlags, ...loader, '--input-type=module', '-e', program, ...args], environment]
}
