import type { FastifyReply, FastifyRequest } from 'fastify'
import { hostName } from '../broker/allowed-hosts.js'

/**
 * The policy for what the pages of web/ may load, fetch and be framed by.
 * The chat needs no more: its scripts and styles are files of its own (no
 * inline code), MQTT.js runs its timers in a Worker made from a blob: URL
 * (worker-timers), and it opens its WebSocket to /mqtt on the page's host.
 * web/index.html carries a stricter <meta> policy as well; a browser
 * enforces both, but a <meta> policy cannot say frame-ancestors
 * [CSP3 §6.4.2], which only this header can: no page of another site may
 * frame the chat and trick its users into clicks (clickjacking).
 */
const POLICY = [
  "default-src 'self'",
  "worker-src 'self' blob:",
  "object-src 'none'",
  "base-uri 'self'",
  "form-action 'self'",
  "frame-ancestors 'self'",
].join('; ')

/**
 * `connect-src` names ws: and wss: of the page's own host besides 'self':
 * CSP Level 3 lets 'self' match them, Level 2 browsers do not. The host is
 * the request's Host, written into the header only when it is a plain host
 * (name or address and port), so that it cannot add a directive.
 */
function policy(host: string | undefined): string {
  const own = host !== undefined && hostName(host) !== undefined ? ` ws://${host} wss://${host}` : ''
  return `${POLICY}; connect-src 'self'${own}`
}

/**
 * Sets the security headers on the answer to `req`, whatever it turns out
 * to be: the server calls this first thing for every request (server.ts),
 * and Fastify keeps a reply's headers through errors and refusals.
 * `nosniff`: a browser takes each file as the type it is served with, never
 * runs a JSON answer (a stored event, a function's result) as a script or
 * page. `no-referrer`: following a link out of the chat tells the other site
 * neither the room (the path) nor this server's name; nothing here reads
 * a Referer.
 */
export function securityHeaders(req: FastifyRequest, reply: FastifyReply): void {
  reply.header('content-security-policy', policyFor(req.headers.host))
  reply.header('x-content-type-options', 'nosniff')
  reply.header('referrer-policy', 'no-referrer')
}

/** The policy for the last Host header seen, kept: clients send the same one with every request. */
let lastHost: string | undefined
let lastPolicy = policy(undefined)

function policyFor(host: string | undefined): string {
  if (host !== lastHost) {
    lastPolicy = policy(host)
    lastHost = host
  }
  return lastPolicy
}
