import fastifyStatic from '@fastify/static'
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify'
import { createRequire } from 'node:module'
import { dirname } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { Logger } from 'pino'
import type { Registry } from 'prom-client'
import { hostRefused } from '../broker/allowed-hosts.js'
import { adminAuth, bearerAuth } from './admin-auth.js'
import { acceptEmptyJson } from './json-body.js'
import { securityHeaders } from './security-headers.js'

/** MQTT.js' browser builds, served at /vendor/mqtt/ so that pages need no CDN. */
const MQTT_DIST = dirname(createRequire(import.meta.url).resolve('mqtt/dist/mqtt.esm'))

/** web/ of the package: the same two levels up from src/http and dist/http. */
export const WEB_ROOT = fileURLToPath(new URL('../../web/', import.meta.url))

export interface HttpDeps {
  log: Logger
  registry: Registry
  adminToken: string | undefined
  /** The bearer token /metrics asks for; without one, /metrics is open. */
  metricsToken?: string | undefined
  /** The admin API's route groups, mounted under /api behind the bearer token. */
  api: Array<(app: FastifyInstance) => Promise<void>>
  /** Public route groups (the HTTP entries of the config), mounted at the root. */
  routes?: Array<(app: FastifyInstance) => Promise<void>>
  /** True once the broker and the store are ready to serve. */
  ready(): boolean
  /** Why the node cannot serve now (in a cluster: Redis lost), or undefined when it can. */
  unavailable?: () => string | undefined
  /** Whether a request's Host header names this server (limits.allowedHosts); counts and logs a refusal. */
  admitsHost(host: string | undefined, remoteAddress: string | undefined): boolean
  /** The other servers whose requests this app answers (the HTTPS listener): closed with its own at shutdown. */
  alsoServing?: () => ReadonlyArray<{ closeAllConnections(): void }>
}

/** One-level paths that are the server's own, never a room, whether or not something answers there now. */
const SERVER_PATHS = new Set(['api', 'mqtt', 'metrics', 'healthz', 'auth', 'console'])

/** `/name` or `/name/`: one path level (raw, so `%2F` stays inside it), not one of the server's own. */
function isRoomPath(path: string): boolean {
  const name = /^\/([^/]+)\/?$/.exec(path)?.[1]
  return name !== undefined && !SERVER_PATHS.has(name)
}

/**
 * The one HTTP server: web/ as static files, /healthz, /metrics, and later
 * /api. MQTT over WebSocket is attached to its `server` for `/mqtt`. Every
 * request passes the Host check first; every answer carries the security
 * headers (security-headers.ts).
 */
export async function createHttpServer(deps: HttpDeps): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: deps.log.child({ module: 'http' }) as FastifyBaseLogger,
    // No log line per request: the API is for scripts, which may poll.
    logController: new LogController({ disableRequestLogging: true }),
    // Nor a child logger per request: it would bind a request id that no
    // other line carries, as Fastify logs neither requests nor their errors
    // with request logging off, and pino's child() was 1 to 2 µs of every
    // request. The few lines a handler logs say what they are about.
    childLoggerFactory: (logger) => logger,
    // Query fields such as `from` take a number (ms) or a date string.
    ajv: { customOptions: { allowUnionTypes: true } },
  })

  acceptEmptyJson(app)

  // Before anything else answers, the page and /api included. The security
  // headers go on first, so that every answer carries them, errors and
  // refusals included: set here rather than in an onSend hook, which ran
  // for every answer as a hook of its own (4 µs a request in a bare
  // Fastify, bench/LIMITS.md). Then a request for a name this server was
  // not given is a page of another site whose name was rebound to this
  // address (see broker/allowed-hosts.ts). 421: sent to a server that does
  // not answer for that name [RFC 9110 §15.5.20].
  // A hook that calls back rather than returning a promise: nothing here waits.
  app.addHook('onRequest', (req, reply, done) => {
    securityHeaders(req, reply)
    if (deps.admitsHost(req.headers.host, req.socket.remoteAddress)) return done()
    reply.code(421).send({ error: hostRefused(req.headers.host!) })
  })

  app.get('/healthz', async (_req, reply) => {
    if (!deps.ready()) return reply.code(503).send({ status: 'starting' })
    const reason = deps.unavailable?.()
    if (reason) return reply.code(503).send({ status: 'unavailable', reason })
    return { status: 'ok' }
  })

  // A token of its own, apart from the admin token: the scraper keeps it in
  // its config, and it opens nothing else. Open without one, as before:
  // on the default loopback listener only this machine reaches it.
  app.get('/metrics', { ...(deps.metricsToken === undefined ? {} : { onRequest: bearerAuth(deps.metricsToken) }) }, async (_req, reply) => {
    reply.type(deps.registry.contentType)
    return deps.registry.metrics()
  })

  await app.register(async (api) => {
    api.addHook('onRequest', adminAuth(deps.adminToken))
    for (const routes of deps.api) await api.register(routes)
    // Unknown API paths answer after the token check too: no probing without it.
    api.all('/*', async (req, reply) => reply.code(404).send({ error: `${req.method} ${req.url.split('?')[0]} is not an API route` }))
  }, { prefix: '/api' })

  for (const routes of deps.routes ?? []) await app.register(routes)

  await app.register(fastifyStatic, { root: WEB_ROOT, index: ['index.html'] })
  // The console: its page at /console (a one-level path would otherwise be a chat room), its files under /console/.
  app.get('/console', (_req, reply) => reply.sendFile('console/index.html'))
  await app.register(fastifyStatic, {
    root: MQTT_DIST,
    prefix: '/vendor/mqtt/',
    decorateReply: false,
    allowedPath: (path) => /^\/mqtt(\.esm|\.min)?\.js$/.test(path),
  })
  // A room is a path: /lobby, /team-blue, and as people type them, /Team%20Blue
  // or /caf%C3%A9. Any one-level path that names no file and is none of the
  // server's own is the web client, which makes a room name of it
  // (web/chat/room.js: /Team%20Blue is the room team-blue).
  app.setNotFoundHandler((req, reply) => {
    const path = req.url.split('?')[0]!
    if ((req.method === 'GET' || req.method === 'HEAD') && isRoomPath(path)) return reply.sendFile('index.html')
    return reply.code(404).send({ error: `${req.method} ${path} is not here` })
  })

  // At shutdown, once every plugin's preClose has run (the console's streams
  // end in theirs), the connections still open are closed, not waited on: a
  // request in flight, or a body that never comes, would hold the shutdown
  // for Node's request timeout. fastify's own forceCloseConnections does the
  // same, but only for a server it bound: the app binds `app.server` itself.
  // The HTTPS listener's connections go the same way, at the same moment.
  await app.register(async (last) => {
    last.addHook('preClose', async () => {
      app.server.closeAllConnections()
      for (const server of deps.alsoServing?.() ?? []) server.closeAllConnections()
    })
  })

  // The app's listeners bind `app.server` themselves; fastify must be ready first.
  await app.ready()
  return app
}
