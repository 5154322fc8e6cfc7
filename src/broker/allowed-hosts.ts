import { isIP } from 'node:net'

/**
 * Which names a request's Host header may give for this server: the defence
 * against DNS rebinding. A page of evil.example whose name the attacker's DNS
 * answers, a moment later, with 127.0.0.1 (or another address of the
 * victim's network) is of one origin with the broker as far as the browser
 * knows, so it may read answers and pass the same-origin WebSocket check.
 * The browser still sends the name it looked up: `Host: evil.example:8080`.
 * Refusing names the server was not told it has closes the hole (the check
 * Vite and webpack-dev-server make for the same reason, GHSA-vg6x-rcgg-rjx6).
 *
 * Always allowed, as no attacker's DNS answers for them:
 * - no Host at all: HTTP/1.0 (HAProxy's health checks); Node's parser
 *   refuses an HTTP/1.1 request without one [RFC 9112 §3.2];
 * - an IP address: the browser connected to the address it shows, so the
 *   page came from this server;
 * - `localhost`, which browsers resolve to loopback themselves
 *   [RFC 6761 §6.3];
 * - the host names the HTTP and HTTPS listeners were configured with.
 * Others only when `limits.allowedHosts` lists them (`.example.com` for a
 * domain and its subdomains), or with `'*'`. The port is not compared: a
 * rebinding page uses the server's own port.
 */

/** `name` or `name:port`, `[v6]` or `[v6]:port`, as a Host header carries it [RFC 9110 §7.2]. */
const HOST_HEADER = /^(?:\[([0-9A-Fa-f:.]+)\]|([A-Za-z0-9._-]+))(?::\d{1,5})?$/

/** An entry of `limits.allowedHosts`: `'*'`, a host name, or `.domain` for it and its subdomains. */
export const ALLOWED_HOST_ENTRY = /^(\*|\.?[A-Za-z0-9_]([A-Za-z0-9_-]*[A-Za-z0-9_])?(\.[A-Za-z0-9_]([A-Za-z0-9_-]*[A-Za-z0-9_])?)*)$/

/** The name a Host header gives, lower case and without port or trailing dot; undefined when it is not a host. */
export function hostName(header: string): string | undefined {
  const match = HOST_HEADER.exec(header.trim())
  if (!match) return undefined
  return (match[1] ?? match[2]!).toLowerCase().replace(/\.$/, '')
}

/**
 * The names that need no entry in `limits.allowedHosts`, from the hosts the
 * HTTP listeners bind: a wildcard address names nothing, a DNS name does.
 */
export function listenNames(hosts: ReadonlyArray<string | undefined>): Set<string> {
  const names = new Set(['localhost'])
  for (const host of hosts) if (host !== undefined && isIP(host) === 0) names.add(host.toLowerCase())
  return names
}

/** Whether a request with this Host header is for this server. */
export function allowsHost(header: string | undefined, allowed: readonly string[], own: ReadonlySet<string>): boolean {
  if (header === undefined) return true
  if (allowed.includes('*')) return true
  const name = hostName(header)
  if (name === undefined) return false
  if (isIP(name) !== 0 || own.has(name)) return true
  for (const entry of allowed) {
    const e = entry.toLowerCase()
    if (e.startsWith('.') ? name === e.slice(1) || name.endsWith(e) : name === e) return true
  }
  return false
}

/** Whether an address to bind reaches only this machine. */
export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host)
}

/** The one sentence a refused request gets. */
export function hostRefused(header: string): string {
  return `this server does not answer to the name in Host: ${JSON.stringify(header)}; add the name to limits.allowedHosts in the config`
}
