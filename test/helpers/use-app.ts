import { writeFileSync } from 'node:fs'
import { Server as HttpServer } from 'node:http'
import type { AddressInfo, Server } from 'node:net'
import { join } from 'node:path'
import type { IClientOptions, IConnackPacket, MqttClient } from 'mqtt'
import { afterEach } from 'vitest'
import { startApp, tempDir, type StartOptions, type TestApp } from './app.js'
import { startChild, type ChildBroker } from './child.js'
import { metric } from './metrics.js'
import { attempt, connect, connectWithInbox, end, type Inbox } from './mqtt.js'
import { Recorder } from './recorder.js'
import { within } from './wait.js'

export interface UseAppOptions {
  /** Every app the fixture starts has this admin.token, and `api()` sends it. */
  adminToken?: string
  /** How long one cleanup may take, in ms (20 s unless told): one that takes longer fails the test, named, and the rest still run. */
  cleanupMs?: number
}

export interface AppStartOptions extends Omit<StartOptions, 'extraYaml'> {
  /** Leaves admin.token out of this app's config (the fixture's own token notwithstanding). */
  noAdmin?: boolean
}

interface Cleanup {
  run: () => Promise<void>
  /** The cleanup's source, shortened: what a failure names. */
  what: string
}

const CLEANUP_MS = 20_000

/**
 * The set-up of the tests of one file (or one describe): apps, `switchyard`
 * child processes, MQTT clients, temp folders, servers. Whatever a test
 * makes through it is undone after that test, by an afterEach that useApp()
 * registers, in the reverse order it was made: clients before the app they
 * talk to, the app before the folder that holds its database. A cleanup
 * that fails, or takes over 20 s, does not keep the others from running;
 * the test then fails with its error, or with its source.
 *
 *   const f = useApp({ adminToken: TOKEN })
 *   it('...', async () => {
 *     await f.start(`rules: ...`)
 *     const c = await f.connect({ clientId: 'dev-1' })
 *     expect((await f.api('/rules')).rules).toHaveLength(1)
 *   })
 */
export function useApp(options: UseAppOptions = {}): AppFixture {
  const fixture = new AppFixture(options)
  // Room for one cleanup that runs out of time, and the rest.
  afterEach(() => fixture.cleanUp(), 3 * (options.cleanupMs ?? CLEANUP_MS))
  return fixture
}

export class AppFixture {
  #cleanups: Cleanup[] = []
  #clients: MqttClient[] = []
  #app: TestApp | undefined

  constructor(private readonly options: UseAppOptions) {}

  /** The app started last in this test. */
  get app(): TestApp {
    if (!this.#app) throw new Error('no app started in this test: call start() first')
    return this.#app
  }

  /**
   * Starts the real app (see startApp) with `extraYaml` appended to its
   * config, after the fixture's admin.token. Closing it early (to restart on
   * the same `dir`) is fine: it is closed once.
   */
  async start(extraYaml = '', options: AppStartOptions = {}): Promise<TestApp> {
    const { noAdmin, ...start } = options
    const admin = this.options.adminToken && !noAdmin ? `admin:\n  token: ${this.options.adminToken}\n` : ''
    const dir = start.dir ?? this.tempDir()
    const t = await startApp({ ...start, dir, extraYaml: admin + extraYaml })
    t.close = this.defer(t.close)
    this.#app = t
    return t
  }

  /** Runs `switchyard start` on `configFile` as a child process; killed with SIGKILL after the test. */
  async startChild(configFile: string, args: string[] = []): Promise<ChildBroker> {
    const child = await startChild(configFile, args)
    this.defer(() => child.kill('SIGKILL').then(() => {}))
    return child
  }

  /** Connects an MQTT.js client, to the app's TCP listener unless `url` names another; ended after the test. */
  connect(options?: IClientOptions): Promise<MqttClient>
  connect(url: string, options?: IClientOptions): Promise<MqttClient>
  async connect(urlOrOptions?: string | IClientOptions, options?: IClientOptions): Promise<MqttClient> {
    const [url, opts] = this.#target(urlOrOptions, options)
    return this.#keep(await connect(url, opts))
  }

  /** As connect(), with an Inbox that listens from the first packet on (a persistent session's queue comes right after the CONNACK), and the CONNACK. */
  connectWithInbox(options?: IClientOptions): Promise<{ client: MqttClient; inbox: Inbox; connack: IConnackPacket }>
  connectWithInbox(url: string, options?: IClientOptions): Promise<{ client: MqttClient; inbox: Inbox; connack: IConnackPacket }>
  async connectWithInbox(urlOrOptions?: string | IClientOptions, options?: IClientOptions): Promise<{ client: MqttClient; inbox: Inbox; connack: IConnackPacket }> {
    const [url, opts] = this.#target(urlOrOptions, options)
    const connected = await connectWithInbox(url, opts)
    this.#keep(connected.client)
    return connected
  }

  /** How a connection attempt ends: 'connected' (the client is then ended after the test) or the error it failed with. */
  attempt(options?: IClientOptions): Promise<string>
  attempt(url: string, options?: IClientOptions): Promise<string>
  attempt(urlOrOptions?: string | IClientOptions, options?: IClientOptions): Promise<string> {
    const [url, opts] = this.#target(urlOrOptions, options)
    return attempt(url, opts, (c) => this.#keep(c))
  }

  /** Ends every client connected so far (as before a restart, or after a broker was killed). */
  async endClients(): Promise<void> {
    for (const c of this.#clients.splice(0).reverse()) await end(c, true)
  }

  /** A fresh temp folder, removed after the test. */
  tempDir(prefix?: string): string {
    const temp = tempDir(prefix)
    this.defer(temp.remove)
    return temp.dir
  }

  /** Writes `yaml` as switchyard.yaml in `dir` (a fresh temp folder unless given) and returns the file's path. */
  writeConfig(yaml: string, dir = this.tempDir()): string {
    const file = join(dir, 'switchyard.yaml')
    writeFileSync(file, yaml)
    return file
  }

  /** Has `server` listen on a free loopback port, and returns the port; closed after the test. */
  async listen(server: Server): Promise<number> {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(0, '127.0.0.1', () => {
        server.off('error', reject)
        resolve()
      })
    })
    this.defer(() => {
      if (server instanceof HttpServer) server.closeAllConnections()
      return new Promise<void>((resolve) => server.close(() => resolve()))
    })
    return (server.address() as AddressInfo).port
  }

  /** An HTTP endpoint that records what it is sent (see Recorder), started; closed after the test. */
  async recorder(): Promise<Recorder> {
    const recorder = new Recorder()
    await recorder.start()
    this.defer(() => recorder.close())
    return recorder
  }

  /** Runs `cleanup` after the test, in reverse order with the rest; returns it made to run once, to run early if need be. */
  defer<T>(cleanup: () => T | Promise<T>): () => Promise<void> {
    let done: Promise<void> | undefined
    const once = () => (done ??= Promise.resolve().then(cleanup).then(() => {}))
    const source = String(cleanup).replace(/\s+/g, ' ')
    this.#cleanups.push({ run: once, what: source.length > 100 ? `${source.slice(0, 99)}…` : source })
    return once
  }

  /** A request to the admin API (`/api` + `path`) of the app, with the fixture's token; a body is sent as JSON. */
  request(path: string, init: { method?: string; body?: unknown } = {}): Promise<Response> {
    const headers: Record<string, string> = {}
    if (this.options.adminToken) headers.authorization = `Bearer ${this.options.adminToken}`
    if (init.body !== undefined) headers['content-type'] = 'application/json'
    return fetch(`${this.app.httpUrl}/api${path}`, {
      method: init.method ?? 'GET',
      headers,
      ...(init.body === undefined ? {} : { body: JSON.stringify(init.body) }),
    })
  }

  /** As request(), and the answer's JSON, whatever the status. */
  async api(path: string, init: { method?: string; body?: unknown } = {}): Promise<any> {
    return (await this.request(path, init)).json()
  }

  /** One sample of the app's /metrics, by exact series name (labels included). */
  metric(series: string): Promise<number | undefined> {
    return metric(this.app.httpUrl, series)
  }

  /** Undoes what the test made, last first; called by the afterEach of useApp(). */
  async cleanUp(): Promise<void> {
    const cleanups = this.#cleanups.splice(0).reverse()
    this.#clients = []
    this.#app = undefined
    const errors: unknown[] = []
    for (const { run, what } of cleanups) {
      try {
        await within(run(), this.options.cleanupMs ?? CLEANUP_MS, `the cleanup ${what}`)
      } catch (err) {
        errors.push(err)
      }
    }
    if (errors.length === 1) throw errors[0]
    if (errors.length > 1) throw new AggregateError(errors, `${errors.length} cleanups failed`)
  }

  #keep(client: MqttClient): MqttClient {
    this.#clients.push(client)
    this.defer(() => end(client, true))
    return client
  }

  #target(urlOrOptions: string | IClientOptions | undefined, options: IClientOptions | undefined): [string, IClientOptions] {
    return typeof urlOrOptions === 'string' ? [urlOrOptions, options ?? {}] : [this.app.mqttUrl, urlOrOptions ?? {}]
  }
}
