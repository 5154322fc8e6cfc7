import type { FastifyInstance, FastifyReply } from 'fastify'
import type { Outbox } from '../delivery/outbox.js'
import { RouteChangeError, type RouteTable, type RouteView } from '../routes/route-table.js'

/**
 * Live control of routes: GET /api/routes, PUT /api/routes/{name} (repoint
 * or reweight), POST /api/routes/{name}/hold and .../release. Changes take
 * effect at once and are kept in SQLite.
 */
export function routesApi(routes: RouteTable, functionNames: () => ReadonlySet<string>, dispatcher: { wake(): void; released(target: string): void }, outbox: Outbox) {
  const withHeld = (view: RouteView) => ({ ...view, heldEvents: outbox.heldCount(`route:${view.name}`) })
  const fail = (reply: FastifyReply, err: unknown) => {
    if (err instanceof RouteChangeError) return reply.code(err.status).send({ error: err.message })
    throw err
  }
  return async (app: FastifyInstance) => {
    app.get('/routes', async () => ({ routes: routes.list().map(withHeld) }))

    app.get<{ Params: { name: string } }>('/routes/:name', async (req, reply) => {
      const view = routes.get(req.params.name)
      return view ? withHeld(view) : reply.code(404).send({ error: `there is no route ${req.params.name}` })
    })

    app.put<{ Params: { name: string }; Body: unknown }>('/routes/:name', async (req, reply) => {
      if (!/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/.test(req.params.name)) return reply.code(400).send({ error: 'a route name is letters, digits, _ . and -' })
      try {
        const view = routes.put(req.params.name, req.body, functionNames())
        dispatcher.wake()
        return withHeld(view)
      } catch (err) {
        return fail(reply, err)
      }
    })

    app.post<{ Params: { name: string } }>('/routes/:name/hold', async (req, reply) => {
      try {
        return withHeld(routes.setHeld(req.params.name, true))
      } catch (err) {
        return fail(reply, err)
      }
    })

    app.post<{ Params: { name: string } }>('/routes/:name/release', async (req, reply) => {
      try {
        const view = routes.setHeld(req.params.name, false)
        const released = outbox.release(`route:${req.params.name}`)
        dispatcher.released(`route:${req.params.name}`)
        return { ...withHeld(view), released }
      } catch (err) {
        return fail(reply, err)
      }
    })
  }
}
