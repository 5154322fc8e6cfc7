import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ActionError } from '../errors.js'
import type { InvocationContext } from './function-target.js'
import { HttpFunction } from './http-function.js'

const context: InvocationContext = { clientId: 'alice', topic: 'chat/in', rule: 'chat-rule', requestId: 'req-9' }

const routes: Record<string, (req: IncomingMessage, body: string, res: ServerResponse) => void> = {
  '/echo': (req, body, res) => {
    res.setHeader('content-type', 'application/json')
    res.end(JSON.stringify({ method: req.method, received: JSON.parse(body) as unknown, headers: req.headers }))
  },
  '/empty': (_req, _body, res) => res.writeHead(204).end(),
  '/bad-request': (_req, _body, res) => res.writeHead(400).end('missing field text'),
  '/unavailable': (_req, _body, res) => res.writeHead(503).end(),
  '/too-many': (_req, _body, res) => res.writeHead(429).end(),
  '/not-json': (_req, _body, res) => res.writeHead(200).end('hello'),
  // Never answers; the client's timeout must end it.
  '/hang': () => hung.forEach((resolve) => resolve()),
}

/** Resolved when a request to /hang arrives. */
const hung: Array<() => void> = []
const requestHangs = () => new Promise<void>((resolve) => hung.push(resolve))

let server: Server
let base: string

beforeAll(async () => {
  server = createServer((req, res) => {
    let body = ''
    req.setEncoding('utf8')
    req.on('data', (chunk: string) => { body += chunk })
    req.on('end', () => {
      const route = routes[req.url ?? '']
      if (route) route(req, body, res)
      else res.writeHead(404).end()
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
})

afterAll(async () => {
  server.closeAllConnections()
  await new Promise((resolve) => server.close(resolve))
})

function fn(path: string, options: { timeout?: number; headers?: Record<string, string> } = {}) {
  return new HttpFunction({ name: 'audit', url: `${base}${path}`, timeout: options.timeout ?? 2000, headers: options.headers ?? {}, retry: undefined })
}

async function failure(promise: Promise<unknown>): Promise<ActionError> {
  const err = await promise.then(() => undefined, (e: unknown) => e)
  expect(err).toBeInstanceOf(ActionError)
  return err as ActionError
}

describe('HTTP functions', () => {
  it('POSTs { event, context } as JSON and resolves with the JSON answer', async () => {
    const result = await fn('/echo', { headers: { authorization: 'Bearer t0k3n' } }).invoke({ text: 'hi' }, context)
    expect(result).toMatchObject({
      method: 'POST',
      received: { event: { text: 'hi' }, context: { clientId: 'alice', topic: 'chat/in', rule: 'chat-rule', requestId: 'req-9' } },
      headers: { 'content-type': 'application/json', authorization: 'Bearer t0k3n', 'x-request-id': 'req-9' },
    })
  })

  it('sends null for an absent client, rule or event', async () => {
    const result = await fn('/echo').invoke(undefined, { clientId: undefined, topic: 't', rule: undefined, requestId: 'r' }) as { received: unknown }
    expect(result.received).toEqual({ event: null, context: { clientId: null, topic: 't', rule: null, requestId: 'r' } })
  })

  it('resolves with null for an empty 2xx answer', async () => {
    await expect(fn('/empty').invoke({}, context)).resolves.toBeNull()
  })

  it('fails without retry on a 4xx, quoting the answer', async () => {
    const err = await failure(fn('/bad-request').invoke({}, context))
    expect(err.message).toBe('function audit answered 400: missing field text')
    expect(err.retryable).toBe(false)
  })

  it('fails with retry on a 5xx and on 429', async () => {
    const unavailable = await failure(fn('/unavailable').invoke({}, context))
    expect(unavailable.message).toBe('function audit answered 503')
    expect(unavailable.retryable).toBe(true)
    expect((await failure(fn('/too-many').invoke({}, context))).retryable).toBe(true)
  })

  it('fails without retry on a 2xx body that is not JSON', async () => {
    const err = await failure(fn('/not-json').invoke({}, context))
    expect(err.message).toBe('function audit answered 200 with a body that is not JSON: hello')
    expect(err.retryable).toBe(false)
  })

  it('times out, retryably', async () => {
    const started = performance.now()
    const err = await failure(fn('/hang', { timeout: 200 }).invoke({}, context))
    expect(err.message).toBe('function audit timed out after 200 ms')
    expect(err.retryable).toBe(true)
    expect(performance.now() - started).toBeLessThan(1500)
  })

  it('fails retryably when nothing listens', async () => {
    const closed = createServer()
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve))
    const port = (closed.address() as AddressInfo).port
    await new Promise((resolve) => closed.close(resolve))
    const target = new HttpFunction({ name: 'gone', url: `http://127.0.0.1:${port}/x`, timeout: 2000, headers: {}, retry: undefined })
    const err = await failure(target.invoke({}, context))
    expect(err.message).toBe(`function gone could not be reached at http://127.0.0.1:${port}/x: ECONNREFUSED`)
    expect(err.retryable).toBe(true)
  })

  it('is cancelled by the caller', async () => {
    const controller = new AbortController()
    const arrived = requestHangs()
    const running = failure(fn('/hang').invoke({}, context, controller.signal))
    await arrived
    controller.abort()
    expect((await running).message).toBe('function audit was cancelled')
  })
})
