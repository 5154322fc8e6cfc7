import type { AddressInfo, Server } from 'node:net'
import type { FastifyInstance } from 'fastify'
import type { Logger } from 'pino'
import { collectDefaultMetrics, Registry } from 'prom-client'
import type { WebSocketServer } from 'ws'
import { closeBroker, createBroker, type Broker } from './broker/broker.js'
import { attachWebSocket, closeServer, listen, listenTcp } from './broker/listeners.js'
import { timedPersistence } from './broker/timed-persistence.js'
import type { Config } from './config/schema.js'
import { createHttpServer } from './http/server.js'
import { createSqlitePersistence, type SqlitePersistence } from './persistence/index.js'
import { closeDatabase, openDatabase, type Db } from './store/database.js'

export interface App {
  /** Opens the store, starts the broker and binds every listener. */
  start(): Promise<AppAddresses>
  /** Stops in the reverse order of start: listeners, clients, broker, store. */
  close(): Promise<void>
  readonly broker: Broker
  readonly db: Db
  readonly registry: Registry
}

export interface AppAddresses {
  mqtt: AddressInfo
  http: AddressInfo
}

/** The composition root: every part is made here and handed what it needs. */
export function createApp(config: Config, log: Logger): App {
  const registry = new Registry()
  collectDefaultMetrics({ register: registry, prefix: 'switchyard_' })

  let db: Db | undefined
  let persistence: SqlitePersistence | undefined
  let broker: Broker | undefined
  let http: FastifyInstance | undefined
  let wss: WebSocketServer | undefined
  let tcp: Server | undefined
  let ready = false
  let closing: Promise<void> | undefined

  async function start(): Promise<AppAddresses> {
    try {
      db = openDatabase(config.storage.sqlite)
      persistence = createSqlitePersistence({ db })
      broker = await createBroker({ persistence: timedPersistence(persistence, registry), log, registry })
      http = await createHttpServer({ log, registry, ready: () => ready })
      wss = attachWebSocket(broker.aedes, http.server, broker.metrics, log)
      await listen(http.server, config.listen.http, 'HTTP')
      log.info({ address: http.server.address() }, 'HTTP and MQTT over WebSocket (/mqtt) listening')
      tcp = await listenTcp(broker.aedes, config.listen.mqtt, broker.metrics, log)
    } catch (err) {
      await close()
      throw err
    }
    ready = true
    return { mqtt: tcp.address() as AddressInfo, http: http.server.address() as AddressInfo }
  }

  function close(): Promise<void> {
    closing ??= (async () => {
      ready = false
      const tcpClosed = tcp ? closeServer(tcp) : undefined
      const httpClosed = http?.close()
      if (broker) await closeBroker(broker.aedes)
      wss?.close()
      await tcpClosed
      await httpClosed
      await persistence?.destroy()
      if (db) closeDatabase(db)
    })()
    return closing
  }

  return {
    start,
    close,
    get broker() {
      if (!broker) throw new Error('the app is not started')
      return broker
    },
    get db() {
      if (!db) throw new Error('the app is not started')
      return db
    },
    registry,
  }
}
