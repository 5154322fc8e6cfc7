import type { IClientOptions, IConnackPacket, MqttClient } from 'mqtt'
import { afterAll, afterEach } from 'vitest'
import { startCluster, type Cluster, type ClusterNode, type ClusterOptions } from './cluster.js'
import { metric } from './metrics.js'
import type { Inbox } from './mqtt.js'
import { startRedis, type RedisOptions, type RedisServer } from './redis.js'
import type { Recorder } from './recorder.js'
import { AppFixture } from './use-app.js'

export interface UseClusterOptions {
  /** Every node the fixture starts has this admin.token, and `api()` sends it. */
  adminToken?: string
}

/** A node, or a URL of one (`node.wsUrl` to connect over WebSocket). */
type Target = ClusterNode | string

/**
 * The set-up of the cluster tests of one file: what a test makes through it
 * (the cluster, a Redis, MQTT clients, temp folders) is undone after that
 * test, by an afterEach that useCluster() registers, last made first:
 * clients, then the nodes (SIGKILL), then the Redis, then the folders.
 *
 *   const f = useCluster({ adminToken: TOKEN })
 *   it('...', async () => {
 *     const { nodes: [a, b] } = await f.start()
 *     const sub = await f.connectWithInbox(b, { clientId: 'sub' })
 *     const pub = await f.connect(a)
 *     expect((await f.api(a, '/cluster')).nodes).toHaveLength(3)
 *   })
 */
export function useCluster(options: UseClusterOptions = {}): ClusterFixture {
  const fixture = new ClusterFixture(options)
  afterEach(() => fixture.cleanUp())
  afterAll(() => fixture.stopShared())
  return fixture
}

export class ClusterFixture {
  // Clients, folders and the order of cleanups work as in useApp().
  readonly #base: AppFixture
  #cluster: Cluster | undefined
  #shared: Promise<Cluster> | undefined
  #sharedKey: string | undefined

  constructor(private readonly options: UseClusterOptions) {
    this.#base = new AppFixture({})
  }

  /** The cluster started last in this test. */
  get cluster(): Cluster {
    if (!this.#cluster) throw new Error('no cluster started in this test: call start() first')
    return this.#cluster
  }

  /** Starts a cluster (see startCluster), with the fixture's admin.token before `options.yaml`; stopped after the test. */
  async start(options: ClusterOptions = {}): Promise<Cluster> {
    const admin = this.options.adminToken ? `admin:\n  token: ${this.options.adminToken}\n` : ''
    const cluster = await startCluster({ ...options, yaml: admin + (options.yaml ?? '') })
    this.#base.defer(cluster.stop)
    this.#cluster = cluster
    return cluster
  }

  /**
   * One cluster for every test of the file that calls this (started by the
   * first, stopped after the last): for tests that leave its nodes and its
   * Redis running, and keep to client ids and topics of their own. Starting
   * three nodes costs seconds on a small machine.
   */
  shared(options: ClusterOptions = {}): Promise<Cluster> {
    const admin = this.options.adminToken ? `admin:\n  token: ${this.options.adminToken}\n` : ''
    const key = JSON.stringify(options)
    if (this.#shared && this.#sharedKey !== key) throw new Error('shared() was called with other options than the first time: one shared cluster per file')
    this.#sharedKey = key
    this.#shared ??= startCluster({ ...options, yaml: admin + (options.yaml ?? '') })
    return this.#shared
  }

  /** Stops the shared cluster, if one was started; called by the afterAll of useCluster(). */
  async stopShared(): Promise<void> {
    const shared = this.#shared
    this.#shared = undefined
    if (shared) await (await shared).stop()
  }

  /** A Redis of the test's own (to share between clusters, or to outlive one); removed after the test. */
  async redis(options?: RedisOptions): Promise<RedisServer> {
    const redis = await startRedis(options)
    this.#base.defer(redis.remove)
    return redis
  }

  /** Connects an MQTT.js client to a node over TCP (or to the URL given); ended after the test. */
  connect(target: Target, options?: IClientOptions): Promise<MqttClient> {
    return this.#base.connect(urlOf(target), options)
  }

  /** As connect(), with an Inbox that listens from the first packet on, and the CONNACK. */
  connectWithInbox(target: Target, options?: IClientOptions): Promise<{ client: MqttClient; inbox: Inbox; connack: IConnackPacket }> {
    return this.#base.connectWithInbox(urlOf(target), options)
  }

  /** How a connection attempt ends: 'connected' (the client is then ended after the test) or the error it failed with. */
  attempt(target: Target, options?: IClientOptions): Promise<string> {
    return this.#base.attempt(urlOf(target), options)
  }

  /** Ends every client connected so far (before a node is killed, say, when the test is not about them). */
  endClients(): Promise<void> {
    return this.#base.endClients()
  }

  /** A request to a node's admin API (`/api` + `path`), with the fixture's token; a body is sent as JSON. */
  request(node: ClusterNode, path: string, init: { method?: string; body?: unknown } = {}): Promise<Response> {
    const headers: Record<string, string> = {}
    if (this.options.adminToken) headers.authorization = `Bearer ${this.options.adminToken}`
    if (init.body !== undefined) headers['content-type'] = 'application/json'
    return fetch(`${node.httpUrl}/api${path}`, {
      method: init.method ?? 'GET',
      headers,
      ...(init.body === undefined ? {} : { body: JSON.stringify(init.body) }),
    })
  }

  /** As request(), and the answer's JSON, whatever the status. */
  async api(node: ClusterNode, path: string, init: { method?: string; body?: unknown } = {}): Promise<any> {
    return (await this.request(node, path, init)).json()
  }

  /** One sample of a node's /metrics, by exact series name (labels included). */
  metric(node: ClusterNode, series: string): Promise<number | undefined> {
    return metric(node.httpUrl, series)
  }

  /** An HTTP server that records the requests it answers (see Recorder); closed after the test. */
  recorder(): Promise<Recorder> {
    return this.#base.recorder()
  }

  /** A fresh temp folder, removed after the test. */
  tempDir(prefix?: string): string {
    return this.#base.tempDir(prefix)
  }

  /** Runs `cleanup` after the test, in reverse order with the rest; returns it made to run once. */
  defer<T>(cleanup: () => T | Promise<T>): () => Promise<void> {
    return this.#base.defer(cleanup)
  }

  /** Undoes what the test made, last first; called by the afterEach of useCluster(). */
  async cleanUp(): Promise<void> {
    this.#cluster = undefined
    await this.#base.cleanUp()
  }
}

function urlOf(target: Target): string {
  return typeof target === 'string' ? target : target.mqttUrl
}
