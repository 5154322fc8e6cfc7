import { z } from 'zod'
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
  }).prefault({}),
  storage: z.strictObject({
    sqlite: z.string({ error: 'must be a file path or ":memory:"' }).min(1, 'must not be empty').default('./data/switchyard.db'),
  }).prefault({}),
  rules: rulesSchema,
  rulesEngine: rulesEngineSchema,
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
