import type { FastifyInstance } from 'fastify'
import type { StoredEvents } from '../delivery/stored-events.js'

/** GET /api/store/{table}?key=&since=&limit=: stored events, newest first. */
export function storeApi(events: StoredEvents) {
  return async (app: FastifyInstance) => {
    app.get<{ Params: { table: string }; Querystring: { key?: string; since?: string; until?: string; limit?: number } }>('/store/:table', {
      schema: {
        params: { type: 'object', properties: { table: { type: 'string', pattern: '^[A-Za-z_][A-Za-z0-9_-]{0,63}$' } } },
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            key: { type: 'string' },
            since: { type: 'string' },
            until: { type: 'string' },
            limit: { type: 'integer', minimum: 1, maximum: 1000 },
          },
        },
      },
    }, async (req, reply) => {
      const since = parseTime(req.query.since)
      const until = parseTime(req.query.until)
      if (Number.isNaN(since) || Number.isNaN(until)) {
        return reply.code(400).send({ error: 'since and until must be milliseconds since the epoch or ISO 8601 dates' })
      }
      return {
        table: req.params.table,
        events: await events.query(req.params.table, { key: req.query.key, since, until, limit: req.query.limit ?? 100 }),
      }
    })
  }
}

/** Milliseconds since the epoch, or an ISO 8601 date; NaN when neither. */
export function parseTime(value: string | undefined): number | undefined {
  if (value === undefined || value === '') return undefined
  return /^\d+$/.test(value) ? Number(value) : Date.parse(value)
}
