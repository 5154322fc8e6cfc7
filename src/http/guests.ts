import type { FastifyInstance } from 'fastify'
import type { GuestTokens } from '../broker/guest-tokens.js'

const MINUTE = 60_000
/** Addresses remembered at once; past it the oldest window is forgotten first. */
const MAX_ADDRESSES = 10_000

/**
 * `POST /auth/guest`: a guest identity for a page's visitor, `{ username,
 * token, expiresAt }`, to connect with (the token as the MQTT password).
 * With `{ "token": ... }` of a valid guest token, the same guest gets a new
 * token. New identities are limited per source address (`perMinute`): each
 * is only a signature, but a flood of them would let one client pose as
 * many.
 */
export function guestRoutes(tokens: GuestTokens, perMinute: number) {
  const windows = new Map<string, { start: number; count: number }>()
  return async (app: FastifyInstance) => {
    app.post('/auth/guest', async (req, reply) => {
      const now = Date.now()
      const address = req.ip
      let window = windows.get(address)
      if (!window || now - window.start >= MINUTE) {
        windows.delete(address)
        if (windows.size >= MAX_ADDRESSES) windows.delete(windows.keys().next().value!)
        window = { start: now, count: 0 }
        windows.set(address, window)
      }
      if (++window.count > perMinute) {
        reply.header('retry-after', String(Math.ceil((window.start + MINUTE - now) / 1000)))
        return reply.code(429).send({ error: `at most ${perMinute} guest identities a minute from one address` })
      }
      const body = req.body as { token?: unknown } | undefined
      const previous = typeof body?.token === 'string' ? body.token : undefined
      reply.header('cache-control', 'no-store')
      return tokens.issue(previous)
    })
  }
}
