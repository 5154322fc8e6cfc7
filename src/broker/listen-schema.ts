import { z } from 'zod'

/**
 * The config sections the listeners read: addresses to bind and the TLS
 * certificate. The config schema (src/config/schema.ts) uses them, so that
 * the broker depends on nothing of the config's.
 */

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

/** `1883`, `"1883"`, `"0.0.0.0:1883"`, `"[::1]:1883"`. Port 0 picks a free port. */
export const listenAddressSchema = z.union([z.number(), z.string()], {
  error: 'must be a port number or "host:port"',
}).transform((value, ctx) => {
  const parsed = parseAddress(value)
  if (typeof parsed === 'string') {
    ctx.addIssue({ code: 'custom', message: parsed })
    return z.NEVER
  }
  return parsed
})

/** The certificate of the `mqtts` and `https` listeners, as PEM files. */
export const tlsSchema = z.strictObject({
  cert: z.string({ error: 'must be the path of a PEM certificate file' }).min(1, 'must not be empty'),
  key: z.string({ error: 'must be the path of a PEM private key file' }).min(1, 'must not be empty'),
  /** CA certificates to trust for client certificates; with it, clients must present one. */
  ca: z.string({ error: 'must be the path of a PEM file of CA certificates' }).min(1, 'must not be empty').optional(),
})

export type TlsConfig = z.output<typeof tlsSchema>
