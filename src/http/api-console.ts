import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { FlowMap } from '../console/flow-map.js'
import type { TraceEvent, Tracer } from '../console/tracer.js'
import { invalidTopicFilter } from '../topics/match.js'

/** How often the map's stream sends the map again. */
const MAP_EVERY_MS = 1000

/**
 * What the console reads, under /api behind the admin token:
 * - GET /api/console/map: the flow map (see console/flow-map.ts), once;
 * - GET /api/console/map/stream: the map again every second, as server-sent events (`event: map`);
 * - GET /api/console/trace?filter=...&clientId=...: the traced messages, as
 *   server-sent events (`event: trace`), until the client goes or the watch
 *   ends (`event: ended`).
 * The streams are read with fetch, which sends the token in its header
 * (EventSource cannot).
 */
export function consoleApi(map: FlowMap, tracer: Tracer) {
  return async (app: FastifyInstance) => {
    // A stream never ends on its own: the server's close ends them (or it would wait for them forever).
    // One asked for while the server closes (its request was in flight) ends at once.
    const open = new Set<EventStream>()
    let closing = false
    app.addHook('preClose', async () => {
      closing = true
      for (const stream of open) stream.end()
    })
    const openStream = (req: FastifyRequest, reply: FastifyReply) => {
      const stream = startStream(req, reply)
      if (closing) stream.end()
      open.add(stream)
      void stream.closed.then(() => open.delete(stream))
      return stream
    }

    app.get('/console/map', async () => map.build())

    app.get('/console/map/stream', async (req, reply) => {
      const stream = openStream(req, reply)
      let sending = false
      const send = async () => {
        if (sending) return
        sending = true
        try {
          stream.send('map', await map.build())
        } catch (err) {
          req.log.warn({ err }, 'could not build the flow map')
        } finally {
          sending = false
        }
      }
      const timer = setInterval(() => void send(), MAP_EVERY_MS)
      const unwatch = map.onChange(() => void send())
      void stream.closed.then(() => {
        clearInterval(timer)
        unwatch()
      })
      await send()
    })

    app.get<{ Querystring: { filter?: string; clientId?: string } }>('/console/trace', {
      schema: { querystring: { type: 'object', additionalProperties: false, properties: { filter: { type: 'string', minLength: 1 }, clientId: { type: 'string', minLength: 1 } } } },
    }, async (req, reply) => {
      const { filter, clientId } = req.query
      if (filter === undefined && clientId === undefined) return reply.code(400).send({ error: 'trace what? give a topic filter (filter=) or a client id (clientId=)' })
      const invalid = filter === undefined ? undefined : invalidTopicFilter(filter)
      if (invalid) return reply.code(400).send({ error: `filter ${filter}: ${invalid}` })
      const stream = openStream(req, reply)
      const stop = tracer.watch({ filter, clientId }, (event: TraceEvent) => {
        stream.send(event.type === 'ended' ? 'ended' : 'trace', event)
        if (event.type === 'ended') stream.end()
      })
      stream.closed.then(stop, stop)
      stream.send('ready', { filter: filter ?? null, clientId: clientId ?? null })
    })
  }
}

interface EventStream {
  send(event: string, data: unknown): void
  end(): void
  /** Settles when the client went away or the stream ended. */
  closed: Promise<void>
}

/** Answers with a stream of server-sent events, taken out of fastify's hands. */
function startStream(req: FastifyRequest, reply: FastifyReply): EventStream {
  reply.hijack()
  const res = reply.raw
  res.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-store',
    'x-content-type-options': 'nosniff',
    connection: 'keep-alive',
  })
  res.flushHeaders()
  let open = true
  let ended!: () => void
  const closed = new Promise<void>((resolve) => {
    ended = resolve
    const gone = () => {
      open = false
      resolve()
    }
    // A connection closed before the handler ran has already said so.
    if (req.raw.socket.destroyed) gone()
    else req.raw.once('close', gone)
  })
  // A comment line now and then keeps proxies from closing a quiet stream.
  const keepAlive = setInterval(() => open && res.write(': keep-alive\n\n'), 15_000)
  void closed.then(() => clearInterval(keepAlive))
  return {
    send(event, data) {
      if (open) res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`)
    },
    end() {
      if (!open) return
      open = false
      res.end()
      ended()
    },
    closed,
  }
}
