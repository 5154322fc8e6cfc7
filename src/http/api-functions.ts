import type { FastifyInstance, FastifyReply } from 'fastify'
import { randomUUID } from 'node:crypto'
import { ActionError } from '../errors.js'
import type { FunctionRegistry } from '../functions/registry.js'

/** POST /api/functions/{name}/invoke: calls a function now and answers its result. */
export function functionsApi(functions: FunctionRegistry) {
  return async (app: FastifyInstance) => {
    app.get('/functions', async () => ({
      functions: functions.names().map((name) => {
        const fn = functions.get(name)!
        return { name, kind: fn.kind, timeout: fn.timeout }
      }),
    }))

    app.post<{ Params: { name: string }; Body: { event?: unknown; clientId?: string; topic?: string } | undefined }>('/functions/:name/invoke', async (req, reply) => {
      const fn = functions.get(req.params.name)
      if (!fn) return reply.code(404).send({ error: `there is no function ${req.params.name}` })
      const body = req.body ?? {}
      const requestId = randomUUID()
      try {
        const result = await fn.invoke(body.event ?? null, { clientId: body.clientId, topic: body.topic ?? '', rule: undefined, requestId })
        return { requestId, result: result ?? null }
      } catch (err) {
        return failed(reply, err, requestId)
      }
    })
  }
}

export interface GatewayEntry {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE'
  path: string
  function: string
}

/**
 * The API-gateway half of an event gateway: each `http:` entry of the
 * config answers its method and path with a function's result. The function
 * gets `{ method, path, params, query, headers, body }` as its event.
 */
export function gatewayRoutes(entries: readonly GatewayEntry[], functions: FunctionRegistry) {
  return async (app: FastifyInstance) => {
    for (const entry of entries) {
      app.route({
        method: entry.method,
        url: entry.path,
        handler: async (req, reply) => {
          const fn = functions.get(entry.function)!
          const requestId = randomUUID()
          const event = { method: req.method, path: req.url.split('?')[0], params: req.params, query: req.query, headers: req.headers, body: req.body ?? null }
          try {
            const result = await fn.invoke(event, { clientId: undefined, topic: '', rule: undefined, requestId })
            reply.header('x-request-id', requestId)
            return result ?? null
          } catch (err) {
            return failed(reply, err, requestId)
          }
        },
      })
    }
  }
}

function failed(reply: FastifyReply, err: unknown, requestId: string) {
  const message = err instanceof Error ? err.message : String(err)
  // The function failed, not this server: a gateway's 502 (504 for a timeout).
  const status = err instanceof ActionError && /timed out/.test(message) ? 504 : 502
  return reply.code(status).header('x-request-id', requestId).send({ error: message, requestId })
}
