import { fileURLToPath } from 'node:url'
import { stopProcess, type Spawned } from '../lib/child-processes.js'
import type { BrokerProcess } from '../load/job.js'
import { waitForPort } from '../lib/ports.js'

/** The core brokers run on; the load generator gets the other one. */
export const BROKER_CPU = 0

/**
 * Extra Node.js options for the Node brokers (Switchyard and plain Aedes),
 * from `BENCH_BROKER_NODE_OPTIONS`: `--cpu-prof --cpu-prof-dir=/tmp/prof`
 * profiles every broker of the run, each into a file of its own.
 */
export const BROKER_NODE_OPTIONS: string[] = (process.env.BENCH_BROKER_NODE_OPTIONS ?? '').split(/\s+/).filter(Boolean)

/** The signal on which a Node broker started with `collectOnSignal` runs full garbage collections (gc-probe.mjs). */
export const GC_SIGNAL = 'SIGUSR2'
const GC_PROBE = fileURLToPath(new URL('./gc-probe.mjs', import.meta.url))

/** The Node options that make a Node broker collect its garbage on GC_SIGNAL. */
export function gcProbeOptions(collectOnSignal: boolean | undefined): string[] {
  return collectOnSignal ? ['--expose-gc', '--import', GC_PROBE] : []
}

export interface StartOptions {
  /** A fresh directory for this run's config and data. */
  workDir: string
  /** Also open a WebSocket listener. */
  websocket: boolean
  /** A Node broker: collect its garbage on GC_SIGNAL (gc-probe.mjs); others ignore it. */
  collectOnSignal?: boolean
}

/** Where clients reach a broker: the one broker, or one node of a cluster. */
export interface BrokerNode {
  name: string
  pid: number
  mqttPort: number
  /** ws:// address of MQTT over WebSocket, when asked for. */
  wsUrl: string | undefined
}

/** A started peer. In a cluster, `pid`, `mqttPort`, `wsUrl` and `switchyard` are its first node's. */
export interface RunningPeer {
  pid: number
  mqttPort: number
  /** ws:// address of MQTT over WebSocket, when asked for. */
  wsUrl: string | undefined
  /** Switchyard only: its HTTP server (/metrics, /api), its SQLite file, and where its event-loop probe writes, when it has one. */
  switchyard?: { httpUrl: string; sqlitePath: string; adminToken: string; eventLoopFile: string | undefined }
  /** The one broker, or every node of a cluster in order (the first is the one above). */
  nodes: readonly BrokerNode[]
  /** Every process whose CPU, system calls and memory are the broker's: the broker alone, or a cluster's nodes and its Redis. */
  processes: readonly BrokerProcess[]
  /** Set when the broker runs full garbage collections on this signal (started with `collectOnSignal`). */
  gcSignal?: NodeJS.Signals
  /** False once the broker process has exited. */
  alive(): boolean
  stop(): Promise<void>
}

/** One broker under test. `start` throws PeerUnavailable when the broker cannot run this configuration. */
export interface Peer {
  id: string
  label: string
  start(options: StartOptions): Promise<RunningPeer>
}

/** The broker cannot be measured (not built, a config it refuses, not installed): reported, not fatal. */
export class PeerUnavailable extends Error {
  override readonly name = 'PeerUnavailable'
}

const START_TIMEOUT_MS = 30_000

/**
 * Waits until a started broker accepts TCP connections on each port. If it
 * exits first, `explain` turns its exit and output into the reason it is
 * unavailable.
 */
export async function whenListening(
  spawned: Spawned,
  ports: number[],
  explain: (output: string) => string,
): Promise<void> {
  const died = () => spawned.exit && explain(spawned.output())
  try {
    for (const port of ports) await waitForPort(port, START_TIMEOUT_MS, () => died() || undefined)
  } catch (err) {
    await stopProcess(spawned)
    throw new PeerUnavailable(died() || (err as Error).message)
  }
}

export function running(spawned: Spawned, mqttPort: number, wsUrl: string | undefined, switchyard?: RunningPeer['switchyard'], collectOnSignal?: boolean): RunningPeer {
  const pid = spawned.child.pid!
  return {
    pid,
    mqttPort,
    wsUrl,
    ...(switchyard ? { switchyard } : {}),
    ...(collectOnSignal ? { gcSignal: GC_SIGNAL } : {}),
    nodes: [{ name: 'broker', pid, mqttPort, wsUrl }],
    processes: [{ name: 'broker', pid }],
    alive: () => spawned.exit === undefined,
    stop: () => stopProcess(spawned),
  }
}

/** The last meaningful line a process printed, shortened for a table cell. */
export function lastLine(output: string): string {
  const lines = output.split('\n').map((l) => l.trim()).filter(Boolean)
  const line = lines.at(-1) ?? 'no output'
  return line.length > 300 ? `${line.slice(0, 300)}…` : line
}
