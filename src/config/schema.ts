import { z } from 'zod'
import { aclSchema, authSchema } from '../broker/auth-schema.js'
import { limitsSchema } from '../broker/limits-schema.js'
import { duration } from '../duration.js'
import { retrySchema } from '../retry.js'
import { functionsSchema } from '../functions/schema.js'
import { checkRoutes } from '../routes/check.js'
import { routesSchema } from '../routes/schema.js'
import { rulesEngineSchema, rulesSchema } from '../rules/schema.js'

/**
 * The config file's schema. Later parts of Switchyard (rules, functions,
 * routes, auth, acl, admin) add their sections here; unknown keys are refused
 * so that a typo never passes silently.
 */

/** `1883`, `"1883"`, `"0.0.0.0:1883"`, `"[::1]:1883"`. Port 0 picks a free port. */
const address = z.union([z.number(), z.string()], {
  error: 'must be a port number or "host:port"',
}).transform((value, ctx) => {
  const parsed = parseAddress(value)
  if (typeof parsed === 'string') {
    ctx.addIssue({ code: 'custom', message: parsed })
    return z.NEVER
  }
  return parsed
})

export interface ListenAddress {
  host: string
  port: number
}

// Like Mosquitto 2: a bare port binds to the loopback interface only, so a
// broker is never exposed to the network by accident; give a host to open it.
const DEFAULT_HOST = '127.0.0.1'

export function parseAddress(value: number | string): ListenAddress | string {
  let host = DEFAULT_HOST
  let portText = String(value).trim()
  const colon = portText.lastIndexOf(':')
  if (colon >= 0) {
    host = portText.slice(0, colon).replace(/^\[(.*)\]$/, '$1')
    portText = portText.slice(colon + 1)
    if (host === '') return `has an empty host in "${value}"; write "host:port" or just the port`
  }
  if (!/^\d+$/.test(portText)) return `must be a port number or "host:port", not ${JSON.stringify(value)}`
  const port = Number(portText)
  if (port > 65535) return `has port ${port}, which is above 65535`
  return { host, port }
}

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
  tls: z.strictObject({
    cert: z.string({ error: 'must be the path of a PEM certificate file' }).min(1, 'must not be empty'),
    key: z.string({ error: 'must be the path of a PEM private key file' }).min(1, 'must not be empty'),
    /** CA certificates to trust for client certificates; with it, clients must present one. */
    ca: z.string({ error: 'must be the path of a PEM file of CA certificates' }).min(1, 'must not be empty').optional(),
  }).optional(),
  limits: limitsSchema,
  storage: z.strictObject({
    sqlite: z.string({ error: 'must be a file path or ":memory:"' }).min(1, 'must not be empty').default('./data/switchyard.db'),
  }).prefault({}),
  rules: rulesSchema,
  rulesEngine: rulesEngineSchema,
  functions: functionsSchema,
  routes: routesSchema,
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
  admin: z.strictObject({
    /** The bearer token of the admin API (/api). Without one, the API refuses every request. */
    token: z.string({ error: 'must be a string' }).min(16, 'must be at least 16 characters').optional(),
  }).prefault({}),
  log: z.strictObject({
    level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], {
      error: 'must be one of fatal, error, warn, info, debug, trace, silent',
    }).default('info'),
  }).prefault({}),
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
