import type { FastifyInstance, FastifyReply } from 'fastify'
import { RouteChangeError, type RouteControl } from '../delivery/route-control.js'
import { requireBody } from './json-body.js'

/**
 * Live control of routes: GET /api/routes, PUT /api/routes/{name} (repoint
 * or reweight), POST /api/routes/{name}/hold and .../release. Changes take
 * effect at once and are saved. POST /api/routes/flush and
 * /api/routes/{name}/flush make every node read its routes again: 200 once
 * every live node confirmed, 504 (with the same body) when some did not in
 * time.
 */
export function routesApi(control: RouteControl) {
  const fail = (reply: FastifyReply, err: unknown) => {
    if (err instanceof RouteChangeError) return reply.code(err.status).send({ error: err.message })
    throw err
  }
  return async (app: FastifyInstance) => {
    app.get('/routes', async () => ({ routes: await control.list(), ...(await control.versions()) }))

    const flush = async (route: string | null, reply: FastifyReply) => {
      const result = await control.flush(route)
      return reply.code(result.missing.length === 0 ? 200 : 504).send(result)
    }
    app.post('/routes/flush', async (_req, reply) => flush(null, reply))

    app.post<{ Params: { name: string } }>('/routes/:name/flush', async (req, reply) => {
      return flush(req.params.name, reply).catch((err: unknown) => fail(reply, err))
    })

    app.get<{ Params: { name: string } }>('/routes/:name', async (req, reply) => {
      const status = await control.get(req.params.name)
      return status ?? reply.code(404).send({ error: `there is no route ${req.params.name}` })
    })

    app.put<{ Params: { name: string }; Body: unknown }>('/routes/:name', { preValidation: requireBody }, async (req, reply) => {
      if (!/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/.test(req.params.name)) return reply.code(400).send({ error: 'a route name is letters, digits, _ . and -' })
      return control.put(req.params.name, req.body).catch((err: unknown) => fail(reply, err))
    })

    app.post<{ Params: { name: string } }>('/routes/:name/hold', async (req, reply) => {
      return control.hold(req.params.name).catch((err: unknown) => fail(reply, err))
    })

    app.post<{ Params: { name: string } }>('/routes/:name/release', async (req, reply) => {
      return control.release(req.params.name).catch((err: unknown) => fail(reply, err))
    })
  }
}
