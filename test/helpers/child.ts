import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { fileURLToPath } from 'node:url'
import { createInterface } from 'node:readline'

const BIN = fileURLToPath(new URL('../../bin/switchyard.js', import.meta.url))

export interface ChildBroker {
  process: ChildProcess
  mqttPort: number
  httpPort: number
  /** mqtt://127.0.0.1:<mqttPort> */
  mqttUrl: string
  /** http://127.0.0.1:<httpPort> */
  httpUrl: string
  /** Every log line the child printed, parsed. */
  logs: Array<Record<string, unknown>>
  /** What the child wrote to stderr so far. */
  stderr(): string
  /** Resolves with the exit code and signal. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>
  kill(signal?: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null }>
}

/**
 * Runs `switchyard start` as a child process (the compiled build, as a user
 * runs it) and resolves once it logs that it started.
 */
export async function startChild(configFile: string, args: string[] = []): Promise<ChildBroker> {
  const child = spawn(process.execPath, [BIN, 'start', '--config', configFile, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  const logs: Array<Record<string, unknown>> = []
  let stderr = ''
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()))
  const exited = once(child, 'exit').then(([code, signal]) => ({ code: code as number | null, signal: signal as NodeJS.Signals | null }))
  const started = new Promise<Record<string, unknown>>((resolve, reject) => {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      try {
        const entry = JSON.parse(line) as Record<string, unknown>
        logs.push(entry)
        if (entry.msg === 'Switchyard started') resolve(entry)
      } catch {
        logs.push({ raw: line })
      }
    })
    void exited.then(({ code, signal }) => reject(new Error(`switchyard exited (${code ?? signal}) before it started: ${stderr}`)))
  })
  const entry = await started
  const mqttPort = (entry.mqtt as { port: number }).port
  const httpPort = (entry.http as { port: number }).port
  return {
    process: child,
    mqttPort,
    httpPort,
    mqttUrl: `mqtt://127.0.0.1:${mqttPort}`,
    httpUrl: `http://127.0.0.1:${httpPort}`,
    logs,
    stderr: () => stderr,
    exited,
    async kill(signal: NodeJS.Signals = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal)
      return exited
    },
  }
}
