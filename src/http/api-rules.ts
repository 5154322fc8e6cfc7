import type { FastifyInstance } from 'fastify'
import { dryRun } from '../rules/dry-run.js'
import type { RulesEngine } from '../rules/engine.js'
import { requireBody } from './json-body.js'

/** GET /api/rules (rules and their counts) and POST /api/rules/test (the dry run). */
export function rulesApi(engine: RulesEngine) {
  return async (app: FastifyInstance) => {
    app.get('/rules', async () => ({
      rules: engine.rules.rules.map((rule) => ({
        name: rule.name,
        description: rule.description ?? null,
        sql: rule.sql,
        from: rule.from,
        enabled: rule.enabled,
        actions: rule.actions.map((a) => a.kind),
        errorAction: rule.errorAction?.kind ?? null,
        stats: rule.stats.toJSON(),
      })),
    }))

    app.post<{ Body: { topic: string; payload?: unknown; payloadBase64?: string; clientId?: string; principal?: string } }>('/rules/test', {
      preValidation: requireBody,
      schema: {
        body: {
          type: 'object',
          required: ['topic'],
          additionalProperties: false,
          properties: {
            topic: { type: 'string', minLength: 1 },
            payload: {},
            payloadBase64: { type: 'string' },
            clientId: { type: 'string' },
            principal: { type: 'string' },
          },
        },
      },
    }, async (req) => {
      const body = req.body
      const payload = body.payloadBase64 !== undefined
        ? Buffer.from(body.payloadBase64, 'base64')
        : Buffer.from(typeof body.payload === 'string' ? body.payload : JSON.stringify(body.payload ?? {}))
      return { results: dryRun(engine.rules, { topic: body.topic, payload, clientId: body.clientId, principal: body.principal }) }
    })
  }
}
