import { z } from 'zod'
import { aclSchema, authSchema } from '../broker/auth-schema.js'
import { sharedSubscriptionsSchema } from '../broker/shared-schema.js'
import { limitsSchema } from '../broker/limits-schema.js'
import { listenAddressSchema as address, tlsSchema } from '../broker/listen-schema.js'
import { clusterSchema } from '../cluster/schema.js'
import { duration } from '../duration.js'
import { retrySchema } from '../retry.js'
import { functionsSchema } from '../functions/schema.js'
import { checkRoutes } from '../routes/check.js'
import { routesSectionSchema, splitRoutesSection } from '../routes/schema.js'
import { rulesEngineSchema, rulesSchema } from '../rules/schema.js'

/**
 * The config file's schema. Later parts of Switchyard (rules, functions,
 * routes, auth, acl, admin) add their sections here; unknown keys are refused
 * so that a typo never passes silently.
 */

export const configSchema = z.strictObject({
  listen: z.strictObject({
    mqtt: address.prefault(1883),
    http: address.prefault(8080),
    /** MQTT over TLS (8883 by convention); needs `tls`. */
    mqtts: address.optional(),
    /** The HTTP server's content and MQTT over secure WebSocket (wss://.../mqtt); needs `tls`. */
    https: address.optional(),
  }).prefault({}),
  /** The certificate of the `mqtts` and `https` listeners, as PEM files. */
  tls: tlsSchema.optional(),
  limits: limitsSchema,
  storage: z.strictObject({
    sqlite: z.string({ error: 'must be a file path or ":memory:"' }).min(1, 'must not be empty').default('./data/switchyard.db'),
  }).prefault({}),
  rules: rulesSchema,
  rulesEngine: rulesEngineSchema,
  functions: functionsSchema,
  routes: routesSectionSchema,
  /** The API-gateway half: an HTTP method and path answered by a function's result. */
  http: z.array(z.strictObject({
    method: z.enum(['GET', 'POST', 'PUT', 'PATCH', 'DELETE'], { error: 'must be GET, POST, PUT, PATCH or DELETE' }),
    path: z.string().regex(/^\/[^\s?#]*$/, 'must be a path starting with /').refine((p) => !/^\/(api|mqtt|healthz|metrics)(\/|$)/.test(p), 'must not be under /api, /mqtt, /healthz or /metrics'),
    function: z.string({ error: 'must be a function name' }),
  }), { error: 'must be a list of { method, path, function }' }).default([]),
  delivery: z.strictObject({
    /** Deliveries to functions, URLs and routes running at once. */
    concurrency: z.number({ error: 'must be a whole number' }).int().min(1).default(64),
    /** The retry policy of targets that have none of their own. */
    retry: retrySchema.prefault({}),
    /**
     * How long a claim on a delivery holds: renewed while the delivery runs,
     * it lets another worker take over a delivery whose worker died.
     */
    lease: duration.refine((ms) => ms >= 1000, 'must be at least 1s').default(30_000),
  }).prefault({}),
  auth: authSchema,
  acl: aclSchema,
  /** How the members of a shared subscription ($share/{group}/{filter}) take turns. */
  sharedSubscriptions: sharedSubscriptionsSchema,
  admin: z.strictObject({
    /** The bearer token of the admin API (/api). Without one, the API refuses every request. */
    token: z.string({ error: 'must be a string' }).min(16, 'must be at least 16 characters').optional(),
    /** The bearer token GET /metrics asks for. Without one, /metrics answers anyone who reaches the HTTP listener. */
    metricsToken: z.string({ error: 'must be a string' }).min(16, 'must be at least 16 characters').optional(),
  }).prefault({}),
  /** Several nodes sharing one Redis; absent, one process on SQLite. */
  cluster: clusterSchema.optional(),
  log: z.strictObject({
    level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], {
      error: 'must be one of fatal, error, warn, info, debug, trace, silent',
    }).default('info'),
  }).prefault({}),
}).transform(({ routes, ...config }) => {
  // `routes.cacheTtl` sits among the route names in the file; the rest of
  // the code sees the routes alone, and the time to live beside them.
  const split = splitRoutesSection(routes)
  return { ...config, routes: split.routes, routesCacheTtl: split.cacheTtl }
})

export type Config = z.output<typeof configSchema>

/**
 * What no single section can check alone: every function and route that a
 * rule, a route or an HTTP entry names exists, and routes form no cycle.
 */
export const checkedConfigSchema = configSchema.superRefine((config, ctx) => {
  for (const key of ['mqtts', 'https'] as const) {
    if (config.listen[key] !== undefined && !config.tls) ctx.addIssue({ code: 'custom', path: ['listen', key], message: 'needs a certificate: add tls: { cert, key } with the paths of PEM files' })
  }
  const functions = new Set(Object.keys(config.functions))
  for (const problem of checkRoutes(config.routes, functions)) {
    ctx.addIssue({ code: 'custom', path: ['routes', ...problem.path], message: problem.message })
  }
  config.rules.forEach((rule, i) => {
    const actions = rule.errorAction ? [...rule.actions.map((a, j) => [a, ['actions', j]] as const), [rule.errorAction, ['errorAction']] as const] : rule.actions.map((a, j) => [a, ['actions', j]] as const)
    for (const [action, at] of actions) {
      if (action.kind !== 'invoke') continue
      const { function: fn, route } = action.config
      if (fn !== undefined && !functions.has(fn)) ctx.addIssue({ code: 'custom', path: ['rules', i, ...at, 'invoke', 'function'], message: `names function ${fn}, which is not defined under functions` })
      if (route !== undefined && !(route in config.routes)) ctx.addIssue({ code: 'custom', path: ['rules', i, ...at, 'invoke', 'route'], message: `names route ${route}, which is not defined under routes` })
    }
  })
  config.http.forEach((entry, i) => {
    if (!functions.has(entry.function)) ctx.addIssue({ code: 'custom', path: ['http', i, 'function'], message: `names function ${entry.function}, which is not defined under functions` })
  })
})
