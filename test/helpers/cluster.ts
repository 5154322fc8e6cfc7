import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { tempDir } from './app.js'
import { startChild, type ChildBroker } from './child.js'
import { startRedis, type RedisServer } from './redis.js'

export interface ClusterOptions {
  /** How many nodes, named node-a, node-b...: 3 unless given. */
  nodes?: number
  /** Appended to every node's config. It must not repeat `listen`, `storage` or `cluster` (see `cluster`). */
  yaml?: string
  /** A Redis to use, which the cluster leaves running when it stops; a fresh one (removed with the cluster) unless given. */
  redis?: RedisServer
  /** The rest of the `cluster:` section: heartbeat 200ms and nodeTimeout 2s unless given. */
  cluster?: { keyPrefix?: string; heartbeat?: string; nodeTimeout?: string; streamLength?: number }
}

export type Exit = { code: number | null; signal: NodeJS.Signals | null }

/** One node: a `switchyard start` child process with its own folder (its config file). */
export interface ClusterNode {
  readonly id: string
  /** The node's folder: switchyard.yaml and switchyard.db. */
  readonly dir: string
  readonly configFile: string
  /** mqtt://127.0.0.1:<port> */
  readonly mqttUrl: string
  /** ws://127.0.0.1:<http port>/mqtt */
  readonly wsUrl: string
  /** http://127.0.0.1:<port> */
  readonly httpUrl: string
  /** The node's process: the latest one after a restart. */
  readonly child: ChildBroker
  /** Whether its process has not exited. */
  readonly running: boolean
  /** Sends `signal` (SIGTERM unless given: a clean shutdown; SIGKILL: a crash) and resolves once the process exited. */
  kill(signal?: NodeJS.Signals): Promise<Exit>
  /**
   * Starts the node again on its folder and its ports (its URLs stay) and
   * resolves once it started; a node still running is stopped first
   * (SIGTERM). After a SIGKILL that takes until the cluster gives up on the
   * killed run: up to nodeTimeout.
   */
  restart(): Promise<void>
}

export interface Cluster {
  redis: RedisServer
  nodes: ClusterNode[]
  /** The node with this id ('node-b'). */
  node(id: string): ClusterNode
  /** Kills every node (SIGKILL), removes the Redis the cluster started, and the nodes' folders. Runs once. */
  stop(): Promise<void>
}

// Short enough for a test to wait out a node's death, long enough that a
// node is not declared dead while a loaded 2-core machine stalls its event
// loop for a few hundred milliseconds (workers starting, another test file).
const HEARTBEAT = '200ms'
const NODE_TIMEOUT = '2s'

/** node-a, node-b, ... */
export function nodeId(index: number): string {
  return `node-${String.fromCharCode(97 + index)}`
}

class ChildNode implements ClusterNode {
  readonly configFile: string
  #child: ChildBroker | undefined

  constructor(
    readonly id: string,
    readonly dir: string,
    private readonly section: string,
    private readonly extraYaml: string,
  ) {
    this.configFile = join(dir, 'switchyard.yaml')
  }

  get child(): ChildBroker {
    if (!this.#child) throw new Error(`${this.id} has not started`)
    return this.#child
  }

  get mqttUrl() {
    return this.child.mqttUrl
  }

  get wsUrl() {
    return `ws://127.0.0.1:${this.child.httpPort}/mqtt`
  }

  get httpUrl() {
    return this.child.httpUrl
  }

  get running() {
    const { exitCode, signalCode } = this.child.process
    return exitCode === null && signalCode === null
  }

  /** Writes the config (free ports the first time, the same ports after) and starts the process. */
  async start(): Promise<void> {
    const listen = this.#child ? { mqtt: this.#child.mqttPort, http: this.#child.httpPort } : { mqtt: 0, http: 0 }
    writeFileSync(this.configFile, `listen:\n  mqtt: ${listen.mqtt}\n  http: ${listen.http}\nstorage:\n  sqlite: ./switchyard.db\n${this.section}${this.extraYaml}`)
    this.#child = await startChild(this.configFile)
  }

  kill(signal: NodeJS.Signals = 'SIGTERM'): Promise<Exit> {
    return this.child.kill(signal)
  }

  async restart(): Promise<void> {
    if (this.running) await this.kill('SIGTERM')
    // After a SIGKILL the node's heartbeat is still fresh in Redis: the node
    // waits until it is nodeTimeout old (its earlier run is dead) by itself.
    await this.start()
  }
}

/**
 * A cluster on this machine: a real redis-server (startRedis) unless one is
 * given, and `nodes` real `switchyard start` processes started in parallel,
 * each in a fresh temp folder with its own config file, on free loopback
 * ports, with `cluster: { redis, nodeId: node-a..., heartbeat: 200ms,
 * nodeTimeout: 2s }`. Resolves once every node logged that it started; if
 * one fails, what was started is undone and the first failure thrown.
 * Tests start it through `useCluster()` (use-cluster.ts), which stops it
 * after the test.
 */
export async function startCluster(options: ClusterOptions = {}): Promise<Cluster> {
  const count = options.nodes ?? 3
  const ownRedis = options.redis === undefined
  const redis = options.redis ?? (await startRedis())
  const settings = { heartbeat: HEARTBEAT, nodeTimeout: NODE_TIMEOUT, ...options.cluster }
  const folders = Array.from({ length: count }, (_, i) => tempDir(`switchyard-cluster-${nodeId(i)}-`))
  const nodes = folders.map(({ dir }, i) => {
    const lines = Object.entries({ redis: redis.url, nodeId: nodeId(i), ...settings }).map(([key, value]) => `  ${key}: ${value}\n`)
    return new ChildNode(nodeId(i), dir, `cluster:\n${lines.join('')}`, options.yaml ?? '')
  })

  let stopped: Promise<void> | undefined
  const stop = () => (stopped ??= (async () => {
    await Promise.all(nodes.map((node) => {
      try {
        return node.kill('SIGKILL')
      } catch {
        return undefined // never started
      }
    }))
    if (ownRedis) await redis.remove()
    for (const folder of folders) folder.remove()
  })())

  const started = await Promise.allSettled(nodes.map((node) => node.start()))
  const failed = started.find((result) => result.status === 'rejected')
  if (failed) {
    await stop()
    throw failed.reason
  }
  return {
    redis,
    nodes,
    node(id) {
      const found = nodes.find((n) => n.id === id)
      if (!found) throw new Error(`no node ${id} in this cluster (${nodes.map((n) => n.id).join(', ')})`)
      return found
    },
    stop,
  }
}
