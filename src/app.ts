import type { AddressInfo, Server } from 'node:net'
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https'
import type { FastifyInstance } from 'fastify'
import type { Logger } from 'pino'
import { collectDefaultMetrics, Registry } from 'prom-client'
import type { WebSocketServer } from 'ws'
import type { ActionDeps } from './actions/action.js'
import type { AedesPublishPacket } from 'aedes'
import { closeBroker, createBroker, type Broker, type BrokerHooks } from './broker/broker.js'
import { Dispatcher } from './delivery/dispatcher.js'
import { Outbox } from './delivery/outbox.js'
import { FunctionRegistry } from './functions/registry.js'
import { deliveriesApi } from './http/api-deliveries.js'
import { functionsApi, gatewayRoutes } from './http/api-functions.js'
import { routesApi } from './http/api-routes.js'
import { RouteTable } from './routes/route-table.js'
import { FunctionHostImpl } from './delivery/function-host.js'
import { Acl } from './broker/acl.js'
import { Authenticator } from './broker/authenticator.js'
import { publishOrphanedWills } from './broker/orphaned-wills.js'
import { Limits } from './broker/limits.js'
import { attachWebSocket, closeServer, listen, listenMqtt } from './broker/listeners.js'
import { readTlsFiles } from './broker/tls-files.js'
import { timedPersistence } from './broker/timed-persistence.js'
import { loadConfig } from './config/load.js'
import { placeListenError } from './config/place.js'
import type { Config } from './config/schema.js'
import { watchFile } from './config/watch.js'
import { rulesApi } from './http/api-rules.js'
import { storeApi } from './http/api-store.js'
import { createHttpServer } from './http/server.js'
import { createSqlitePersistence, type SqlitePersistence } from './persistence/index.js'
import { RulesEngine } from './rules/engine.js'
import { RuleSet } from './rules/rule-set.js'
import { RuleStatsBook } from './rules/rule-stats.js'
import { closeDatabase, openDatabase, type Db } from './store/database.js'
import { EventStore } from './store/event-store.js'
import { startCheckpointer, type Checkpointer } from './store/checkpointer.js'
import { storeHealth } from './store/store-health.js'

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
const RESTART_ONLY = ['listen', 'storage', 'tls', 'admin', 'auth', 'acl', 'rulesEngine', 'delivery', 'http', 'log'] as const

/** `a`, `a and b`, `a, b and c`. */
function listOf(words: readonly string[]): string {
  return words.length < 2 ? words.join('') : `${words.slice(0, -1).join(', ')} and ${words.at(-1)}`
}

// How often expired stored events are deleted.
const SWEEP_INTERVAL_MS = 60_000

/** The composition root: every part is made here and handed what it needs. */
export function createApp(initial: Config, log: Logger, options: AppOptions = {}): App {
  const registry = new Registry()
  collectDefaultMetrics({ register: registry, prefix: 'switchyard_' })
  const ruleStats = new RuleStatsBook(registry)
  const limits = new Limits(initial.limits, registry, log.child({ module: 'limits' }))

  let config = initial
  let db: Db | undefined
  let checkpointer: Checkpointer | undefined
  let persistence: SqlitePersistence | undefined
  let events: EventStore | undefined
  let broker: Broker | undefined
  let engine: RulesEngine | undefined
  let actionDeps: ActionDeps | undefined
  let outbox: Outbox | undefined
  let routes: RouteTable | undefined
  let functions: FunctionRegistry | undefined
  let dispatcher: Dispatcher | undefined
  let http: FastifyInstance | undefined
  let wss: WebSocketServer | undefined
  let tcp: Server | undefined
  let mqtts: Server | undefined
  let https: HttpsServer | undefined
  let sweeper: NodeJS.Timeout | undefined
  let watcher: { close(): void } | undefined
  let ready = false
  let closing: Promise<void> | undefined

  async function start(): Promise<AppAddresses> {
    try {
      const tls = config.tls ? readTlsFiles(config.tls) : undefined
      db = openDatabase(config.storage.sqlite)
      storeHealth(db).report(log.child({ module: 'store' }), registry)
      checkpointer = startCheckpointer(db, config.storage.sqlite, log.child({ module: 'store' }))
      persistence = createSqlitePersistence({ db })
      events = new EventStore(db)
      const hooks: BrokerHooks = {}
      broker = await createBroker({
        persistence: timedPersistence(persistence, registry),
        authenticator: new Authenticator(config.auth),
        acl: new Acl(config.acl),
        limits,
        log,
        registry,
        hooks,
      })
      const rulesEngine = (engine = new RulesEngine(broker.aedes, broker.connections, config.rulesEngine, log, registry))
      const host = new FunctionHostImpl(rulesEngine, events)
      functions = FunctionRegistry.create(config.functions, { host, log, configDir: '.' })
      routes = new RouteTable(db)
      routes.load(config.routes, new Set(functions.names()))
      const box = (outbox = new Outbox(db))
      const fns = functions
      const dispatch = (dispatcher = new Dispatcher({
        outbox,
        routes,
        functions: { get: (name) => fns.get(name) },
        invoke: (fn, event, context, lineage) => host.run(context.requestId, lineage, () => fn.invoke(event, context)),
        publish: (topic, payload, qos, lineage) => rulesEngine.publishAs({ topic, payload, qos, retain: false }, lineage),
        onDeadLetter: (letter, _delivery, err) => rulesEngine.deadLettered(letter, err),
        log,
        registry,
        concurrency: config.delivery.concurrency,
        defaultRetry: config.delivery.retry,
      }))
      engine.recordWith(async (delivery) => {
        await box.record([delivery])
        dispatch.wake()
      })
      actionDeps = {
        broker: broker.aedes,
        events,
        log: log.child({ module: 'actions' }),
        publish: (message, cause) => rulesEngine.publish(message, cause),
        deliver: (delivery, cause) => rulesEngine.deliver(delivery, cause),
      }
      engine.use(RuleSet.build(config.rules, actionDeps, ruleStats))
      engine.attach()
      hooks.beforeAck = (client, packet, done) => rulesEngine.beforeAck(packet as AedesPublishPacket, client, done)
      // Deliveries left by the previous run (a crash, a restart) go out now,
      // and the wills it owed, once rules can see them.
      dispatch.wake()
      await publishOrphanedWills(broker.aedes, persistence, log)
      const store = events
      sweeper = setInterval(() => store.sweepExpired(), SWEEP_INTERVAL_MS).unref()

      http = await createHttpServer({
        log,
        registry,
        ready: () => ready,
        adminToken: config.admin.token,
        api: [
          rulesApi(engine),
          storeApi(events),
          routesApi(routes, () => new Set(fns.names()), dispatch, box),
          deliveriesApi(box, events, dispatch, rulesEngine),
          functionsApi(fns),
        ],
        routes: [gatewayRoutes(config.http, fns)],
      })
      const web = http
      if (config.listen.https && tls) https = createHttpsServer({ ...tls, minVersion: 'TLSv1.2' }, (req, res) => web.routing(req, res))
      wss = attachWebSocket(broker, https ? [http.server, https] : [http.server], log)
      // A listener that cannot bind names the line of the config that asked for it.
      const inConfig = (key: keyof Config['listen']) => (err: unknown) => { throw placeListenError(err, options.configFile, ['listen', key]) }
      await listen(http.server, config.listen.http, 'HTTP').catch(inConfig('http'))
      log.info({ address: http.server.address() }, 'HTTP and MQTT over WebSocket (/mqtt) listening')
      if (https && config.listen.https) {
        await listen(https, config.listen.https, 'HTTPS').catch(inConfig('https'))
        log.info({ address: https.address() }, 'HTTPS and MQTT over secure WebSocket (/mqtt) listening')
      }
      tcp = await listenMqtt(broker, config.listen.mqtt, log).catch(inConfig('mqtt'))
      if (config.listen.mqtts && tls) mqtts = await listenMqtt(broker, config.listen.mqtts, log, tls).catch(inConfig('mqtts'))
      if (options.configFile) watcher = watchFile(options.configFile, () => reload())
    } catch (err) {
      await close()
      throw err
    }
    ready = true
    log.info({ rules: engine.rules.size }, 'rules loaded')
    return {
      mqtt: tcp.address() as AddressInfo,
      http: http.server.address() as AddressInfo,
      ...(mqtts ? { mqtts: mqtts.address() as AddressInfo } : {}),
      ...(https ? { https: https.address() as AddressInfo } : {}),
    }
  }

  function reload(): ReloadResult {
    if (!options.configFile || !engine || !actionDeps || !functions || !routes) return { ok: false, error: new Error('nothing to reload: the app was not started from a config file') }
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
    engine.use(rules)
    limits.update(next.limits)
    config = { ...next, ...Object.fromEntries(RESTART_ONLY.map((key) => [key, config[key]])) }
    log.info({ rules: rules.size, functions: targets.size, routes: routes.list().length }, 'config reloaded')
    return { ok: true, rules: rules.size }
  }

  function close(): Promise<void> {
    closing ??= (async () => {
      ready = false
      watcher?.close()
      clearInterval(sweeper)
      const tcpClosed = Promise.all([tcp, mqtts].map((s) => s && closeServer(s)))
      https?.closeAllConnections()
      const httpClosed = Promise.all([http?.close(), https && closeServer(https)])
      await engine?.close()
      await dispatcher?.close()
      if (broker) await closeBroker(broker.aedes)
      outbox?.flush()
      await functions?.close()
      wss?.close()
      await tcpClosed
      await httpClosed
      events?.flush()
      await persistence?.destroy()
      await checkpointer?.stop()
      if (db) closeDatabase(db)
    })()
    return closing
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
      return started(broker)
    },
    get db() {
      return started(db)
    },
    get engine() {
      return started(engine)
    },
    registry,
  }
}
