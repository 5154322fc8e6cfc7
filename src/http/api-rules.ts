import type { FastifyInstance, FastifyReply } from 'fastify'
import { dryRun } from '../rules/dry-run.js'
import type { RulesEngine } from '../rules/engine.js'
import type { CompiledRule } from '../rules/rule-set.js'
import { RuleSwitchError, type RuleSwitches } from '../rules/rule-switches.js'
import { requireBody } from './json-body.js'

/** A rule as the API shows it: what it is, whether it runs and why, and its counts. */
function view(rule: CompiledRule) {
  return {
    name: rule.name,
    description: rule.description ?? null,
    sql: rule.sql,
    from: rule.from,
    enabled: rule.enabled,
    enabledSource: rule.enabledSource,
    actions: rule.actions.map((a) => a.kind),
    errorAction: rule.errorAction?.kind ?? null,
    stats: rule.stats.toJSON(),
  }
}

/**
 * GET /api/rules (rules and their counts), POST /api/rules/test (the dry
 * run), and POST /api/rules/{name}/enable, .../disable and .../reset: a
 * rule switched on or off at once on every node, and saved, until reset to
 * the config's `enabled` (see RuleSwitches).
 */
export function rulesApi(engine: RulesEngine, switches: RuleSwitches) {
  return async (app: FastifyInstance) => {
    app.get('/rules', async () => ({ rules: engine.rules.rules.map(view) }))

    const turn = (enabled: boolean | null) => async (req: { params: { name: string } }, reply: FastifyReply) => {
      try {
        return view(await switches.set(req.params.name, enabled))
      } catch (err) {
        if (err instanceof RuleSwitchError) return reply.code(err.status).send({ error: err.message })
        throw err
      }
    }
    app.post<{ Params: { name: string } }>('/rules/:name/enable', turn(true))
    app.post<{ Params: { name: string } }>('/rules/:name/disable', turn(false))
    app.post<{ Params: { name: string } }>('/rules/:name/reset', turn(null))

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
