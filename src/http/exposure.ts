import { isLoopback } from '../broker/allowed-hosts.js'

export interface HttpListener {
  /** `HTTP` or `HTTPS`. */
  what: string
  host: string
  port: number
}

/**
 * What the log should say at start about HTTP listeners that other machines
 * can reach: the names their requests will be refused for, and a /metrics
 * open to them. On loopback (the default) there is nothing to say.
 */
export function exposureWarnings(listeners: readonly HttpListener[], allowedHosts: readonly string[], metricsToken: string | undefined): string[] {
  const warnings: string[] = []
  for (const { what, host, port } of listeners) {
    if (isLoopback(host)) continue
    const at = `${host.includes(':') ? `[${host}]` : host}:${port}`
    if (allowedHosts.length === 0) warnings.push(`${what} listens on ${at}, beyond this machine, and limits.allowedHosts is empty: requests that name this server by a DNS name other than localhost or the listener's own are refused with 421; list those names in limits.allowedHosts`)
    if (metricsToken === undefined) warnings.push(`GET /metrics on ${at} answers anyone who can reach it: set admin.metricsToken to require a bearer token`)
  }
  return warnings
}
