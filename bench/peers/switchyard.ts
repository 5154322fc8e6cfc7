import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { stringify } from 'yaml'
import { spawnPinned } from '../lib/child-processes.js'
import { freePort } from '../lib/ports.js'
import { BROKER_CPU, BROKER_NODE_OPTIONS, gcProbeOptions, lastLine, PeerUnavailable, running, whenListening, type Peer, type RunningPeer } from './peer.js'
import type { SwitchyardBuild } from './switchyard-build.js'
import { benchRules, type RuleCounts } from './switchyard-rules.js'

/** What a Switchyard peer runs besides the broker: rules, functions, and the files they need. */
export interface SwitchyardSetup {
  rules?: RuleCounts | object[]
  functions?: Record<string, object>
  /** Files written into the run's folder (function modules), by name. */
  files?: Record<string, string>
  /** Measure the broker's event-loop stalls (event-loop-probe.mjs, loaded with `--import`). */
  probeEventLoop?: boolean
}

export interface SwitchyardConfigOptions extends SwitchyardSetup {
  mqttPort: number
  httpPort: number
  sqlitePath: string
  /** Cluster mode: the Redis every node shares, and this node's id. */
  cluster?: { redis: string; nodeId: string }
}

export const BENCH_ADMIN_TOKEN = 'bench-admin-token-0123456789'
const EVENT_LOOP_PROBE = fileURLToPath(new URL('./event-loop-probe.mjs', import.meta.url))

/** The YAML config a user would write for this run; `rules` is left out when there are none. */
export function switchyardConfig(options: SwitchyardConfigOptions): string {
  const config: Record<string, unknown> = {
    listen: { mqtt: options.mqttPort, http: options.httpPort },
    storage: { sqlite: options.sqlitePath },
    // The load generator publishes far faster than a person's client, from
    // few connections, all from one address; the limits that protect a
    // public broker are lifted.
    limits: { publishRate: 0, maxConnections: 100_000, maxConnectionsPerAddress: 100_000 },
    admin: { token: BENCH_ADMIN_TOKEN },
    // warn, not info: nothing is logged per message at info, but a benchmark should not pay for logging at all.
    log: { level: 'warn' },
  }
  // The cluster section's other settings (heartbeat, nodeTimeout, streamLength) keep their defaults.
  if (options.cluster) config.cluster = options.cluster
  if (options.functions) config.functions = options.functions
  if (options.rules) config.rules = Array.isArray(options.rules) ? options.rules : benchRules(options.rules)
  return stringify(config)
}

/**
 * Switchyard started as a user starts it: `node bin/switchyard.js start
 * --config <file>`, from the snapshot of its build.
 */
export function switchyardPeer(id: string, label: string, build: SwitchyardBuild, setup: SwitchyardSetup = {}): Peer {
  return {
    id,
    label,
    async start({ workDir, collectOnSignal }) {
      if ('failure' in build) throw new PeerUnavailable(build.failure)
      return startSwitchyard(build, setup, workDir, undefined, collectOnSignal)
    },
  }
}

/**
 * One Switchyard process pinned to the brokers' core, with its config,
 * SQLite file and function modules in `dir`; resolves once its MQTT and
 * HTTP ports accept connections (in a cluster, it has joined by then: the
 * listeners open after Redis answered).
 */
export async function startSwitchyard(build: { dir: string }, setup: SwitchyardSetup, dir: string, cluster?: SwitchyardConfigOptions['cluster'], collectOnSignal?: boolean): Promise<RunningPeer> {
  const mqttPort = await freePort()
  const httpPort = await freePort()
  const configFile = join(dir, 'switchyard.yaml')
  const sqlitePath = join(dir, 'switchyard.db')
  const eventLoopFile = setup.probeEventLoop ? join(dir, 'event-loop.txt') : undefined
  for (const [name, text] of Object.entries(setup.files ?? {})) writeFileSync(join(dir, name), text)
  writeFileSync(configFile, switchyardConfig({ ...setup, mqttPort, httpPort, sqlitePath, ...(cluster ? { cluster } : {}) }))
  const spawned = spawnPinned({
    cpu: BROKER_CPU,
    command: process.execPath,
    args: [...BROKER_NODE_OPTIONS, ...gcProbeOptions(collectOnSignal), ...(eventLoopFile ? ['--import', EVENT_LOOP_PROBE] : []), join(build.dir, 'bin/switchyard.js'), 'start', '--config', configFile],
    cwd: dir,
    ...(eventLoopFile ? { env: { ...process.env, BENCH_EVENT_LOOP_FILE: eventLoopFile } } : {}),
  })
  await whenListening(spawned, [mqttPort, httpPort], (output) => {
    const said = output.split('\n').find((l) => l.startsWith('switchyard:')) ?? lastLine(output)
    // A Switchyard from before the rules engine refuses the `rules` key, one from before cluster mode the `cluster` key.
    if (setup.rules && /\brules\b/.test(said)) return `this Switchyard does not accept the rules config: ${said}`
    if (cluster && /\bcluster\b.*not a known key/.test(said)) return `this Switchyard has no cluster mode: ${said}`
    return `Switchyard exited (code ${spawned.exit?.code}): ${said}`
  })
  return running(spawned, mqttPort, `ws://127.0.0.1:${httpPort}/mqtt`, { httpUrl: `http://127.0.0.1:${httpPort}`, sqlitePath, adminToken: BENCH_ADMIN_TOKEN, eventLoopFile }, collectOnSignal)
}
