import { hash, timingSafeEqual } from 'node:crypto'
import type { FastifyReply, FastifyRequest } from 'fastify'

/**
 * Guards the admin API with a bearer token. Without a configured token the
 * API refuses everything: no token, no access.
 */
export function adminAuth(token: string | undefined) {
  if (token === undefined) {
    return async (_req: FastifyRequest, reply: FastifyReply) => reply.code(403).send({ error: 'the admin API is disabled: set admin.token in the config to enable it' })
  }
  return bearerAuth(token)
}

/**
 * Lets through requests with `Authorization: Bearer <token>`; others get 401.
 * The comparison takes the same time whatever the guess (both sides are
 * hashed to equal length first).
 */
export function bearerAuth(token: string) {
  const expected = digest(token)
  // A hook that calls back rather than returning a promise: nothing here waits.
  return (req: FastifyRequest, reply: FastifyReply, done: () => void) => {
    const header = req.headers.authorization ?? ''
    const match = /^Bearer\s+(.+)$/i.exec(header)
    if (!match || !timingSafeEqual(digest(match[1]!.trim()), expected)) {
      reply.code(401).header('www-authenticate', 'Bearer').send({ error: 'missing or wrong bearer token' })
      return
    }
    done()
  }
}

function digest(value: string): Buffer {
  // One call: a Hash object made and finished for each request cost twice as much.
  return hash('sha256', value, 'buffer')
}
