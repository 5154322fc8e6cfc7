import type { FastifyInstance } from 'fastify'
import type { Deliveries } from '../delivery/deliveries.js'
import type { StoredEvents } from '../delivery/stored-events.js'
import { parseTime } from './api-store.js'
import { requireBody } from './json-body.js'

/**
 * Dead letters and replay: GET /api/deadletters, POST /api/deadletters/replay
 * (by ids or by target), and POST /api/replay, which republishes the stored
 * events of a table over a time range (archive and replay).
 */
export function deliveriesApi(deliveries: Deliveries, stored: StoredEvents) {
  return async (app: FastifyInstance) => {
    app.get<{ Querystring: { target?: string; limit?: number } }>('/deadletters', {
      schema: {
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: { target: { type: 'string' }, limit: { type: 'integer', minimum: 1, maximum: 10000 } },
        },
      },
    }, async (req) => ({ deadLetters: await deliveries.deadLetters({ target: req.query.target, limit: req.query.limit ?? 100 }) }))

    app.post<{ Body: { ids?: number[]; target?: string; limit?: number } }>('/deadletters/replay', {
      schema: {
        body: {
          type: 'object',
          additionalProperties: false,
          properties: {
            ids: { type: 'array', items: { type: 'integer' }, maxItems: 10000 },
            target: { type: 'string' },
            limit: { type: 'integer', minimum: 1, maximum: 10000 },
          },
        },
      },
    }, async (req, reply) => {
      const { ids, target, limit } = req.body ?? {}
      if (ids === undefined && target === undefined) return reply.code(400).send({ error: 'give ids, or a target such as function:chat, to replay' })
      const replayed = await deliveries.replay({ ids, target, limit: limit ?? 10000 })
      return { replayed: replayed.length, deliveries: replayed }
    })

    app.post<{ Body: { table: string; from?: string | number; to?: string | number; key?: string; topic?: string; limit?: number } }>('/replay', {
      preValidation: requireBody,
      schema: {
        body: {
          type: 'object',
          required: ['table'],
          additionalProperties: false,
          properties: {
            table: { type: 'string', minLength: 1 },
            from: { type: ['string', 'integer'] },
            to: { type: ['string', 'integer'] },
            key: { type: 'string' },
            topic: { type: 'string', minLength: 1, pattern: '^[^+#]+$' },
            limit: { type: 'integer', minimum: 1, maximum: 1000 },
          },
        },
      },
    }, async (req, reply) => {
      const from = parseTime(req.body.from === undefined ? undefined : String(req.body.from))
      const to = parseTime(req.body.to === undefined ? undefined : String(req.body.to))
      if (Number.isNaN(from) || Number.isNaN(to)) return reply.code(400).send({ error: 'from and to must be milliseconds since the epoch or ISO 8601 dates' })
      const { table, key, topic, limit } = req.body
      return { replayed: await stored.replay({ table, key, from, to, topic, limit: limit ?? 1000 }) }
    })
  }
}
