import type { FastifyInstance } from 'fastify'
import type { Dispatcher } from '../delivery/dispatcher.js'
import type { Outbox } from '../delivery/outbox.js'
import type { RulesEngine } from '../rules/engine.js'
import type { EventStore } from '../store/event-store.js'
import { parseTime } from './api-store.js'

/**
 * Dead letters and replay: GET /api/deadletters, POST /api/deadletters/replay
 * (by ids or by target), and POST /api/replay, which republishes the stored
 * events of a table over a time range (archive and replay).
 */
export function deliveriesApi(outbox: Outbox, events: EventStore, dispatcher: Dispatcher, engine: RulesEngine) {
  return async (app: FastifyInstance) => {
    app.get<{ Querystring: { target?: string; limit?: number } }>('/deadletters', {
      schema: {
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: { target: { type: 'string' }, limit: { type: 'integer', minimum: 1, maximum: 10000 } },
        },
      },
    }, async (req) => ({ deadLetters: outbox.deadLetters({ target: req.query.target, limit: req.query.limit ?? 100 }) }))

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
      const letters = outbox.deadLetters({ ids, target, limit: limit ?? 10000 })
      const deliveries = outbox.replay(letters)
      dispatcher.wake()
      return { replayed: deliveries.length, deliveries }
    })

    app.post<{ Body: { table: string; from?: string | number; to?: string | number; key?: string; topic?: string; limit?: number } }>('/replay', {
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
      // Oldest first, as they happened.
      const stored = events.query(req.body.table, { key: req.body.key, since: from, until: to, limit: req.body.limit ?? 1000 }).reverse()
      for (const event of stored) {
        await engine.publishAs({ topic: req.body.topic ?? event.topic, payload: Buffer.from(JSON.stringify(event.data)), qos: 1, retain: false }, { hops: 1, fromLoop: false })
      }
      return { replayed: stored.length }
    })
  }
}
