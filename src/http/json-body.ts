import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'

/**
 * JSON bodies as fastify parses them (secure-json-parse, refusing
 * `__proto__` and `constructor.prototype` keys), except that an empty one is
 * no body rather than a 400. `curl -X POST -H 'content-type:
 * application/json' .../hold` sends the header without a body, and HTTP
 * lets a request carry a content type with zero bytes of content
 * [RFC 9110 §8.3]; an endpoint that takes no body then answers it as it
 * answers a POST without the header, and one that needs a body says so
 * (requireBody).
 */
export function acceptEmptyJson(app: FastifyInstance): void {
  const parse = app.getDefaultJsonParser('error', 'error')
  app.removeContentTypeParser('application/json')
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (req, body, done) => {
    if (body === '') return done(null, undefined)
    parse(req, body as string, done)
  })
}

/** A preValidation hook for the endpoints that need a body: one sentence instead of a schema's "body must be object". */
export async function requireBody(req: FastifyRequest, reply: FastifyReply): Promise<void> {
  if (req.body !== undefined) return
  return reply.code(400).send({ error: `${req.method} ${req.url.split('?')[0]} needs a JSON body` })
}
