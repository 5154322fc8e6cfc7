import type { AedesPublishPacket } from 'aedes'
import { hostname } from 'node:os'
import type { AddressInfo, Server } from 'node:net'
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https'
import type { FastifyInstance } from 'fastify'
import type { Logger } from 'pino'
import { collectDefaultMetrics, Registry } from 'prom-client'
import type { WebSocketServer } from 'ws'
import type { ActionDeps } from './actions/action.js'
import { openSqliteStorage, type SqliteStorage } from './backends/sqlite.js'
import { Acl } from './broker/acl.js'
import { ClientIdRules } from './broker/client-id-rules.js'
import { ClientIdentity } from './broker/client-identity.js'
import { GuestTokens } from './broker/guest-tokens.js'
import { withJwtSecret } from './broker/jwt-secret.js'
import { Authenticator } from './broker/authenticator.js'
import { closeBroker, createBroker, type Broker, type BrokerHooks } from './broker/broker.js'
import { Limits } from './broker/limits.js'
import { attachWebSocket, closeServer, listen, listenMqtt } from './broker/listeners.js'
import { publishOrphanedWills } from './broker/orphaned-wills.js'
import { SessionExpiry } from './broker/session-expiry.js'
import { StorageQuotas } from './broker/storage-quotas.js'
import { strategyOf } from './broker/shared-schema.js'
import type { Cluster } from './cluster/cluster.js'
import type { RedisSharedMembers } from './cluster/shared-members.js'
import { FlowMap } from './console/flow-map.js'
import { Tracer } from './console/tracer.js'
import { DeliveryStats } from './delivery/delivery-stats.js'
import { consoleApi } from './http/api-console.js'
import { timedPersistence } from './broker/timed-persistence.js'
import { readTlsFiles } from './broker/tls-files.js'
import { loadConfig } from './config/load.js'
import { placeListenError } from './config/place.js'
import type { Config } from './config/schema.js'
import { watchConfig } from './config/watch.js'
import { Deliveries } from './delivery/deliveries.js'
import { Dispatcher } from './delivery/dispatcher.js'
import { RouteControl, type ClusterRoutes } from './delivery/route-control.js'
import { StoredEvents } from './delivery/stored-events.js'
import { LocalFunctionHost } from './functions/host.js'
import { FunctionRegistry } from './functions/registry.js'
import { clusterApi, type ClusterView } from './http/api-cluster.js'
import { deliveriesApi } from './http/api-deliveries.js'
import { functionsApi, gatewayRoutes } from './http/api-functions.js'
import { routesApi } from './http/api-routes.js'
import { rulesApi } from './http/api-rules.js'
import { storeApi } from './http/api-store.js'
import { guestRoutes } from './http/guests.js'
import { InvocationQuota } from './actions/invocation-quota.js'
import { exposureWarnings } from './http/exposure.js'
import { createHttpServer } from './http/server.js'
import { Publisher } from './publisher/publisher.js'
import type { RouteFlush } from './redis/route-flush.js'
import type { RouteWatch } from './redis/route-state-watch.js'
import { RouteCache } from './routes/route-cache.js'
import { RouteTable } from './routes/route-table.js'
import { RulesEngine } from './rules/engine.js'
import { RuleSet } from './rules/rule-set.js'
import { RuleStatsBook } from './rules/rule-stats.js'
import { RuleSwitches } from './rules/rule-switches.js'
import type { Storage } from './storage/index.js'
import type { Db } from './store/database.js'

export interface AppOptions {
  /** The file the config came from: watched, and reread on reload(). */
  configFile?: string | undefined
}

export interface App {
  /** Opens the store, starts the broker and binds every listener. */
  start(): Promise<AppAddresses>
  /** Rereads the config file; a valid change swaps the rules at once, an invalid one changes nothing. */
  reload(): ReloadResult
  /** Stops in the reverse order of start: listeners, clients, broker, store. */
  close(): Promise<void>
  readonly broker: Broker
  /** The stores, as the rest of the app uses them. */
  readonly storage: Storage
  /** The SQLite database of a single node. */
  readonly db: Db
  readonly registry: Registry
  readonly engine: RulesEngine
}

export interface AppAddresses {
  mqtt: AddressInfo
  http: AddressInfo
  /** Present when `listen.mqtts` is configured. */
  mqtts?: AddressInfo
  /** Present when `listen.https` is configured. */
  https?: AddressInfo
}

export type ReloadResult = { ok: true; rules: number } | { ok: false; error: Error }

// Sections a reload cannot apply to a running broker: they are read at start.
const RESTART_ONLY = ['listen', 'storage', 'cluster', 'tls', 'admin', 'auth', 'acl', 'rulesEngine', 'delivery', 'http', 'log'] as const

/** `a`, `a and b`, `a, b and c`. */
function listOf(words: readonly string[]): string {
  return words.length < 2 ? words.join('') : `${words.slice(0, -1).join(', ')} and ${words.at(-1)}`
}

// How often a node of a cluster looks for deliveries in the shared outbox
// that it was not woken for.
const CLUSTER_POLL_MS = 1000

// How long a flush of the route caches waits for every node's answer.
const ROUTE_FLUSH_TIMEOUT_MS = 2000

// How often expired stored events are deleted.
const SWEEP_INTERVAL_MS = 60_000

/** The ports the app's listeners are bound to (those that are). */
function listening(parts: Partial<Parts>): { mqtt?: number; http?: number; mqtts?: number; https?: number } {
  const port = (server: { address(): unknown } | undefined) => (server?.address() as AddressInfo | null | undefined)?.port
  const ports = { mqtt: port(parts.tcp), http: port(parts.http?.server), mqtts: port(parts.mqtts), https: port(parts.https) }
  return Object.fromEntries(Object.entries(ports).filter(([, p]) => p !== undefined))
}

/** What a started app is made of; `close` stops whatever of it was built. */
interface Parts {
  cluster: Cluster
  storage: Storage | SqliteStorage
  routeWatch: RouteWatch
  routeFlush: RouteFlush
  routeCache: RouteCache
  broker: Broker
  engine: RulesEngine
  actionDeps: ActionDeps
  functions: FunctionRegistry
  routes: RouteTable
  ruleSwitches: RuleSwitches
  dispatcher: Dispatcher
  sweeper: NodeJS.Timeout
  expiry: SessionExpiry
  http: FastifyInstance
  https: HttpsServer
  wss: WebSocketServer
  tcp: Server
  mqtts: Server
  watcher: { close(): void }
  sharedMembers: RedisSharedMembers
  mapSampler: NodeJS.Timeout
  flowMap: FlowMap
}

/**
 * The composition root: every part is made here and handed what it needs,
 * in the order they depend on each other; `close` stops them in reverse.
 * A message's path runs through the parts themselves (broker → rules →
 * actions → delivery → functions → publisher), never back through here.
 */
export function createApp(initial: Config, log: Logger, options: AppOptions = {}): App {
  const registry = new Registry()
  collectDefaultMetrics({ register: registry, prefix: 'switchyard_' })
  const ruleStats = new RuleStatsBook(registry)
  // The listeners' host names are the server's own in the Host check; they change only with a restart.
  const limits = new Limits(initial.limits, registry, log.child({ module: 'limits' }), [initial.listen.http.host, initial.listen.https?.host])
  const quotas = new StorageQuotas(limits, registry)
  const nodeId = initial.cluster?.nodeId ?? `${hostname()}-${process.pid}`
  // Each node's series are told apart where they are gathered.
  if (initial.cluster) registry.setDefaultLabels({ node: nodeId })

  let config = initial
  const parts: Partial<Parts> = {}
  let ready = false
  let closing: Promise<void> | undefined
  const startedAt = Date.now()

  async function start(): Promise<AppAddresses> {
    try {
      const tls = config.tls ? readTlsFiles(config.tls) : undefined
      // In a cluster, every store and the traffic between nodes are in the
      // Redis the nodes share; one node on its own keeps them in its file.
      const clusterMode = config.cluster ? await import('./cluster/cluster-mode.js') : undefined
      const cluster = clusterMode && config.cluster ? (parts.cluster = await clusterMode.Cluster.open(config.cluster, { nodeId, log, registry })) : undefined
      const storage = (parts.storage = clusterMode && cluster && config.cluster
        ? clusterMode.openRedisStorage(cluster.redis, config.cluster.keyPrefix, cluster.sessions(new clusterMode.RedisSessionStore({ redis: cluster.redis, keyPrefix: config.cluster.keyPrefix })))
        : openSqliteStorage(config.storage.sqlite, log, registry))
      const auth = withJwtSecret(config.auth)
      // One process alone serves the clients: no clean session outlived its last run.
      if (!cluster) {
        await storage.owners.dropAllClean().catch((err: unknown) => {
          log.warn({ err: (err as Error).message }, 'could not clear the client id bindings of clean sessions: the store cannot be written')
        })
      }
      // Before the broker writes anything; again at each reload of limits.
      quotas.attach(storage)
      // A shared subscription's group spans the nodes: one member in the cluster takes each message.
      const sharedMembers = clusterMode && cluster && config.cluster ? (parts.sharedMembers = new clusterMode.RedisSharedMembers({
        redis: cluster.redis, keyPrefix: config.cluster.keyPrefix, brokerId: cluster.brokerId, log,
        liveBrokers: async () => new Set((await cluster.nodes()).filter((n) => n.alive).map((n) => n.brokerId)),
        strategyFor: (group) => strategyOf(config.sharedSubscriptions, group),
      })) : undefined
      if (cluster && sharedMembers) {
        cluster.bus.beforeEmit = (message) => sharedMembers.choose(message as AedesPublishPacket)
        await sharedMembers.start()
      }
      const hooks: BrokerHooks = {}
      const broker = (parts.broker = await createBroker({
        nodeId,
        cluster: cluster && { brokerId: cluster.brokerId, mq: cluster.mq, directory: cluster.directory, shared: sharedMembers, ownsWill: (client) => cluster.ownsWill(client) },
        persistence: timedPersistence(storage.sessions, registry),
        authenticator: new Authenticator(auth),
        acl: new Acl(config.acl.rules),
        identity: new ClientIdentity(storage.owners, new ClientIdRules(config.acl.rules)),
        deniedPublish: config.acl.deniedPublish,
        sharedSubscriptions: config.sharedSubscriptions,
        limits,
        log,
        registry,
        hooks,
      }))
      const publisher = new Publisher({ broker: broker.aedes, maxHops: config.rulesEngine.maxHops, loops: ruleStats, log, registry, reaches: broker.reaches })
      const tracer = new Tracer()
      const engine = (parts.engine = new RulesEngine(broker.aedes, broker.connections, config.rulesEngine, log, registry, cluster?.recorded, tracer))
      const functions = (parts.functions = FunctionRegistry.create(config.functions, { host: new LocalFunctionHost(publisher, storage.events), log, configDir: '.' }))
      const routes = (parts.routes = new RouteTable(storage.routes))
      // Rule switches are saved with the routes' changes, and read with them.
      const ruleSwitches = (parts.ruleSwitches = new RuleSwitches({ engine, table: routes, log, changed: () => parts.flowMap?.changed() }))
      await routes.refresh()
      routes.load(config.routes, new Set(functions.names()))
      const routeCache = (parts.routeCache = new RouteCache({ table: routes, ttlMs: config.cluster ? config.routesCacheTtl : 0, log, onRead: (version) => cluster?.setRoutesVersion(version) }))
      if (clusterMode && cluster && config.cluster) {
        // A change made through another node's API is in force here once its
        // notice arrives, or within routes.cacheTtl if the notice was lost.
        const onError = (what: string) => (err: Error) => log.warn({ err: err.message }, `${what}: connection failed; retrying`)
        cluster.setRoutesVersion(routes.version)
        parts.routeWatch = clusterMode.watchRouteChanges(cluster.redis, config.cluster.keyPrefix, (change) => routeCache.notice(change), { onError: onError('route change notices') })
        parts.routeFlush = clusterMode.openRouteFlush({
          redis: cluster.redis,
          keyPrefix: config.cluster.keyPrefix,
          nodeId,
          reread: () => routeCache.read(),
          liveNodes: async () => (await cluster.nodes()).filter((n) => n.alive).map((n) => n.id),
          timeoutMs: ROUTE_FLUSH_TIMEOUT_MS,
          onError: onError('route flushes'),
        })
        await parts.routeFlush.ready
        routeCache.start()
      }
      const deliveryStats = new DeliveryStats()
      const dispatcher = (parts.dispatcher = new Dispatcher({
        outbox: storage.outbox,
        routes,
        functions,
        publisher,
        onDeadLetter: (letter, err) => engine.deadLettered(letter, err),
        log,
        registry,
        nodeId,
        concurrency: config.delivery.concurrency,
        defaultRetry: config.delivery.retry,
        leaseMs: config.delivery.lease,
        stats: deliveryStats,
        tracer,
        // Another node's deliveries (left by its death) wake no one here.
        ...(cluster ? { pollMs: CLUSTER_POLL_MS } : {}),
      }))
      const wake = () => dispatcher.wake()
      const deliveries = new Deliveries({ outbox: storage.outbox, publisher, wake })
      const quota = new InvocationQuota(() => ({ rate: limits.config.invocationsPerClient, count: () => limits.count('invocations_per_client') }), log.child({ module: 'actions' }))
      const actionDeps = (parts.actionDeps = { events: storage.events, log: log.child({ module: 'actions' }), publisher, deliveries, quota })
      ruleSwitches.load(RuleSet.build(config.rules, actionDeps, ruleStats))
      engine.attach(hooks)
      // Deliveries left by the previous run (a crash, a restart) go out now,
      // and the wills it owed, once rules can see them.
      dispatcher.wake()
      if (cluster) await cluster.start(broker.aedes, broker.connections)
      else await publishOrphanedWills(broker.aedes, storage.sessions, log)
      // After the wills the stopped sessions owed: an expired session's will goes with it.
      parts.expiry = new SessionExpiry({ sessions: storage.sessions, owners: storage.owners, limits, aedes: broker.aedes, nodeId, log, registry })
      parts.expiry.start()
      parts.sweeper = setInterval(() => {
        storage.events.sweepExpired().catch((err: unknown) => log.warn({ err }, 'could not delete expired stored events'))
      }, SWEEP_INTERVAL_MS).unref()

      const stored = new StoredEvents(storage.events, publisher)
      const routeControl = new RouteControl({ routes, cache: routeCache, nodeId, cluster: clusterRoutes(cluster, parts.routeFlush), outbox: storage.outbox, functionNames: () => new Set(functions.names()), wake })
      const flowMap = (parts.flowMap = new FlowMap({
        rules: () => engine.rules.rules,
        ruleConfigs: () => config.rules,
        routes: () => routeControl.list(),
        functions: () => functions.names().map((name) => ({ name, kind: functions.get(name)!.kind })),
        deliveries: deliveryStats,
      }))
      parts.mapSampler = setInterval(() => flowMap.sample(), 1000).unref()
      flowMap.sample()
      const http = (parts.http = await createHttpServer({
        log,
        registry,
        ready: () => ready,
        unavailable: () => {
          const health = parts.cluster?.healthy()
          return health && !health.ok ? health.reason : undefined
        },
        adminToken: config.admin.token,
        metricsToken: config.admin.metricsToken,
        admitsHost: (host, remoteAddress) => limits.admitsHost(host, remoteAddress),
        alsoServing: () => (parts.https ? [parts.https] : []),
        api: [
          rulesApi(engine, ruleSwitches),
          storeApi(stored),
          routesApi(routeControl),
          consoleApi(flowMap, tracer),
          deliveriesApi(deliveries, stored),
          functionsApi(functions),
          clusterApi(() => clusterView(broker, parts.cluster)),
        ],
        routes: [
          gatewayRoutes(config.http, functions),
          ...(auth.guests && auth.jwt?.secret ? [guestRoutes(new GuestTokens({ secret: auth.jwt.secret, usernameClaim: auth.jwt.usernameClaim, lifetimeMs: auth.guests.lifetime, audience: auth.jwt.audience, issuer: auth.jwt.issuer }), auth.guests.perMinute)] : []),
        ],
      }))
      if (config.listen.https && tls) parts.https = createHttpsServer({ ...tls, minVersion: 'TLSv1.2' }, (req, res) => http.routing(req, res))
      const https = parts.https
      parts.wss = attachWebSocket(broker, https ? [http.server, https] : [http.server], log)
      // A listener that cannot bind names the line of the config that asked for it.
      const inConfig = (key: keyof Config['listen']) => (err: unknown) => { throw placeListenError(err, options.configFile, ['listen', key]) }
      await listen(http.server, config.listen.http, 'HTTP').catch(inConfig('http'))
      log.info({ address: http.server.address() }, 'HTTP and MQTT over WebSocket (/mqtt) listening')
      if (https && config.listen.https) {
        await listen(https, config.listen.https, 'HTTPS').catch(inConfig('https'))
        log.info({ address: https.address() }, 'HTTPS and MQTT over secure WebSocket (/mqtt) listening')
      }
      const httpListeners = [{ what: 'HTTP', host: config.listen.http.host, port: (http.server.address() as AddressInfo).port }]
      if (https && config.listen.https) httpListeners.push({ what: 'HTTPS', host: config.listen.https.host, port: (https.address() as AddressInfo).port })
      for (const warning of exposureWarnings(httpListeners, limits.config.allowedHosts, config.admin.metricsToken)) log.warn(warning)
      parts.tcp = await listenMqtt(broker, config.listen.mqtt, log).catch(inConfig('mqtt'))
      if (config.listen.mqtts && tls) parts.mqtts = await listenMqtt(broker, config.listen.mqtts, log, tls).catch(inConfig('mqtts'))
      cluster?.setAddress(listening(parts))
      if (options.configFile) parts.watcher = watchConfig(options.configFile, () => reload())
    } catch (err) {
      await close()
      throw err
    }
    ready = true
    const { engine, tcp, http, mqtts, https } = parts as Parts
    log.info({ rules: engine.rules.size }, 'rules loaded')
    return {
      mqtt: tcp.address() as AddressInfo,
      http: http.server.address() as AddressInfo,
      ...(mqtts ? { mqtts: mqtts.address() as AddressInfo } : {}),
      ...(https ? { https: https.address() as AddressInfo } : {}),
    }
  }

  function reload(): ReloadResult {
    const { engine, actionDeps, functions, routes, ruleSwitches } = parts
    if (!options.configFile || !engine || !actionDeps || !functions || !routes || !ruleSwitches) return { ok: false, error: new Error('nothing to reload: the app was not started from a config file') }
    const file = options.configFile
    let next: Config
    let rules: RuleSet
    let targets: ReturnType<FunctionRegistry['build']>
    try {
      next = loadConfig(file)
      rules = RuleSet.build(next.rules, actionDeps, ruleStats)
      targets = functions.build(next.functions)
      // The running HTTP entries stay until a restart: so must their functions.
      const orphan = config.http.find((entry) => !targets.has(entry.function))
      if (orphan) throw new Error(`${file}: function ${orphan.function} answers ${orphan.method} ${orphan.path} until the next restart (http entries change only then); keep it until then`)
      // Last, as it takes effect when it succeeds: the routes, with the changes made through the API on top.
      routes.load(next.routes, new Set(targets.keys()))
    } catch (err) {
      log.error({ err: (err as Error).message }, 'config not reloaded: the running config stays')
      return { ok: false, error: err as Error }
    }
    const later = RESTART_ONLY.filter((key) => JSON.stringify(next[key]) !== JSON.stringify(config[key]))
    if (later.length > 0) log.warn({ sections: later }, `${listOf(later)} changes take effect at the next restart`)
    functions.use(targets)
    // The switches set through the admin API stay over the config's `enabled`.
    const inForce = ruleSwitches.load(rules)
    limits.update(next.limits)
    config = { ...next, ...Object.fromEntries(RESTART_ONLY.map((key) => [key, config[key]])) }
    parts.flowMap?.changed()
    log.info({ rules: inForce.size, functions: targets.size, routes: routes.list().length }, 'config reloaded')
    return { ok: true, rules: inForce.size }
  }

  function close(): Promise<void> {
    closing ??= (async () => {
      ready = false
      const { watcher, sweeper, expiry, tcp, mqtts, https, http, engine, dispatcher, broker, storage, functions, wss, cluster, routeWatch, routeFlush, routeCache, sharedMembers } = parts
      watcher?.close()
      routeCache?.close()
      await routeFlush?.close()
      await routeWatch?.close()
      clearInterval(sweeper)
      clearInterval(parts.mapSampler)
      await expiry?.close()
      const tcpClosed = Promise.all([tcp, mqtts].map((s) => s && closeServer(s)))
      // The HTTP app's close ends the console's streams on both listeners, then closes their connections.
      const httpClosed = Promise.all([http?.close(), https && closeServer(https)])
      await engine?.close()
      await dispatcher?.close()
      if (broker) await closeBroker(broker.aedes)
      await storage?.outbox.flush()
      await functions?.close()
      wss?.close()
      await tcpClosed
      await httpClosed
      await sharedMembers?.close()
      await storage?.close()
      await cluster?.close()
    })()
    return closing
  }

  function clusterRoutes(cluster: Cluster | undefined, flush: RouteFlush | undefined): ClusterRoutes | undefined {
    if (!cluster || !flush) return undefined
    return {
      flush: (route) => flush.request(route),
      versions: async () => (await cluster.nodes()).map((n) => ({ id: n.id, version: n.routesVersion ?? null, alive: n.alive })),
    }
  }

  async function clusterView(broker: Broker, cluster: Cluster | undefined): Promise<ClusterView> {
    if (!cluster) {
      const now = Date.now()
      const self = { id: nodeId, brokerId: broker.aedes.id, address: { host: hostname(), ...listening(parts) }, clients: broker.aedes.connectedClients }
      return { cluster: false, node: nodeId, nodes: [{ ...self, heartbeat: new Date(now).toISOString(), silentFor: 0, alive: true, self: true, startedAt: new Date(startedAt).toISOString() }] }
    }
    const nodes = await cluster.nodes()
    return {
      cluster: true,
      node: nodeId,
      nodes: nodes.map((n) => ({ ...n, heartbeat: new Date(n.heartbeat).toISOString(), startedAt: new Date(n.startedAt).toISOString() })),
    }
  }

  const started = <T>(value: T | undefined): T => {
    if (value === undefined) throw new Error('the app is not started')
    return value
  }
  return {
    start,
    reload,
    close,
    get broker() {
      return started(parts.broker)
    },
    get storage() {
      return started(parts.storage)
    },
    get db() {
      const storage = started(parts.storage)
      if (!('db' in storage)) throw new Error('a node of a cluster keeps its stores in Redis: it has no SQLite database')
      return storage.db
    },
    get engine() {
      return started(parts.engine)
    },
    registry,
  }
}
