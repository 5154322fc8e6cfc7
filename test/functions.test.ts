import { join } from 'node:path'
import { pino } from 'pino'
import { describe, expect, it } from 'vitest'
import { ActionError } from '../src/errors.js'
import type { FunctionHost, InvocationContext, PublishOptions } from '../src/functions/function-target.js'
import { FunctionRegistry } from '../src/functions/registry.js'
import { functionsSchema } from '../src/functions/schema.js'
import type { EventQuery, StoredEvent } from '../src/store/event-store.js'
import { fixturePath } from './helpers/fixtures.js'
import { useApp } from './helpers/use-app.js'
import { waitUntil } from './helpers/wait.js'

const FIXTURES = fixturePath('functions/')

const context: InvocationContext = { clientId: 'alice', topic: 'chat/in', rule: 'chat-rule', requestId: 'req-1' }

const storedEvent: StoredEvent = { id: 7, table: 'readings', key: 'k1', timestamp: 10, topic: 't', clientId: 'c', data: { v: 1 }, expiresAt: null }

/** A host that records what functions ask of it. */
function fakeHost() {
  const published: Array<{ topic: string; payload: string; options: PublishOptions; context: InvocationContext }> = []
  const queries: Array<{ table: string; query: EventQuery }> = []
  const host: FunctionHost = {
    async publish(topic, payload, options, ctx) {
      if (topic.startsWith('forbidden/')) throw new Error(`not allowed to publish to ${topic}`)
      published.push({ topic, payload: payload.toString('base64'), options, context: ctx })
    },
    async queryStore(table, query) {
      queries.push({ table, query })
      return [storedEvent]
    },
  }
  return { host, published, queries }
}

/** A logger whose lines land in `lines`. */
function captureLog() {
  const lines: Array<Record<string, unknown>> = []
  const log = pino({ level: 'debug' }, { write: (line: string) => { lines.push(JSON.parse(line) as Record<string, unknown>) } })
  return { log, lines }
}

const f = useApp()

function registry(functions: Record<string, unknown>, options: { poolSize?: number; host?: FunctionHost } = {}) {
  const { log, lines } = captureLog()
  const r = FunctionRegistry.create(functionsSchema.parse(functions), {
    host: options.host ?? fakeHost().host,
    log,
    configDir: FIXTURES,
    poolSize: options.poolSize ?? 2,
  })
  f.defer(() => r.close())
  return { registry: r, lines }
}

async function failure(promise: Promise<unknown>): Promise<ActionError> {
  const err = await promise.then(() => undefined, (e: unknown) => e)
  expect(err).toBeInstanceOf(ActionError)
  return err as ActionError
}

describe('local functions', () => {
  it('runs a module in a worker with the event and ctx fields, and logs with the function bound', async () => {
    const { registry: r, lines } = registry({ echo: { module: './echo.js' } })
    const fn = r.get('echo')!
    expect(fn).toMatchObject({ name: 'echo', kind: 'module', timeout: 3000, retry: undefined })
    const result = await fn.invoke({ text: 'hi', n: [1, 2] }, context) as Record<string, unknown>
    expect(result).toMatchObject({
      event: { text: 'hi', n: [1, 2] },
      functionName: 'echo',
      clientId: 'alice',
      topic: 'chat/in',
      rule: 'chat-rule',
      requestId: 'req-1',
    })
    expect(result.threadId).not.toBe(0)
    expect(lines).toContainEqual(expect.objectContaining({ msg: 'echo called', function: 'echo', requestId: 'req-1', seen: { text: 'hi', n: [1, 2] }, level: 30 }))
  })

  it('reaches the host for ctx.publish and ctx.store.query, and passes host errors back', async () => {
    const fake = fakeHost()
    const { registry: r } = registry({ pq: { module: './publish-and-query.js' } }, { host: fake.host })
    const result = await r.get('pq')!.invoke({ name: 'bob' }, context)
    expect(fake.published).toEqual([
      { topic: 'out/json', payload: Buffer.from('{"hello":"bob"}').toString('base64'), options: { qos: 0, retain: false }, context },
      { topic: 'out/text', payload: Buffer.from('plain text').toString('base64'), options: { qos: 1, retain: true }, context },
      { topic: 'out/bytes', payload: Buffer.from([1, 2, 3]).toString('base64'), options: { qos: 2, retain: false }, context },
    ])
    expect(fake.queries).toEqual([{ table: 'readings', query: { key: 'k1', since: 5, until: undefined, limit: 2 } }])
    expect(result).toEqual({ events: [storedEvent], refused: 'not allowed to publish to forbidden/topic' })
  })

  it('stops a function that loops forever at its timeout, and the pool then serves promptly', async () => {
    const { registry: r } = registry({ spin: { module: './spin.js', timeout: '300ms' }, echo: { module: './echo.js' } })
    const started = performance.now()
    const err = await failure(r.get('spin')!.invoke({}, context))
    expect(err.message).toBe('function spin timed out after 300 ms')
    expect(err.retryable).toBe(true)
    expect(performance.now() - started).toBeGreaterThanOrEqual(290)

    const next = performance.now()
    await expect(r.get('echo')!.invoke({ after: 'spin' }, context)).resolves.toMatchObject({ event: { after: 'spin' } })
    expect(performance.now() - next).toBeLessThan(500)
  })

  it('keeps the main thread responsive while a function spins', async () => {
    const { registry: r } = registry({ spin: { module: './spin.js', timeout: '600ms' } })
    const spinning = failure(r.get('spin')!.invoke({}, context))
    const lags: number[] = []
    const until = performance.now() + 400
    while (performance.now() < until) {
      const before = performance.now()
      await new Promise((resolve) => setImmediate(resolve))
      lags.push(performance.now() - before)
      await new Promise((resolve) => setTimeout(resolve, 5))
    }
    expect((await spinning).message).toMatch(/timed out/)
    expect(lags.length).toBeGreaterThan(20)
    expect(Math.max(...lags)).toBeLessThan(50)
  })

  it('counts the timeout from when a worker takes the invocation, not while it is queued', async () => {
    const { registry: r } = registry({ spin: { module: './spin.js', timeout: '400ms' }, echo: { module: './echo.js', timeout: '200ms' } }, { poolSize: 1 })
    const spinning = failure(r.get('spin')!.invoke({}, context))
    // Queued behind the spinning function for about 400 ms, twice its own timeout.
    const echoed = r.get('echo')!.invoke({ queued: true }, context)
    expect((await spinning).message).toBe('function spin timed out after 400 ms')
    await expect(echoed).resolves.toMatchObject({ event: { queued: true } })
  })

  it('reports a function that throws, honouring retryable: false', async () => {
    const { registry: r } = registry({ throws: { module: './throws.js' } })
    const err = await failure(r.get('throws')!.invoke({}, context))
    expect(err.message).toBe('function throws threw: boom')
    expect(err.retryable).toBe(true)
    const permanent = await failure(r.get('throws')!.invoke({ permanent: true }, context))
    expect(permanent.message).toBe('function throws threw: bad input')
    expect(permanent.retryable).toBe(false)
  })

  it('reports a function that exits its worker, and keeps serving', async () => {
    const { registry: r } = registry({ exits: { module: './exits.js' }, echo: { module: './echo.js' } })
    const err = await failure(r.get('exits')!.invoke({}, context))
    expect(err.message).toBe('function exits exited its worker (code 3)')
    expect(err.retryable).toBe(true)
    await expect(r.get('echo')!.invoke(1, context)).resolves.toMatchObject({ event: 1 })
  })

  it('refuses a result that cannot be sent back', async () => {
    const { registry: r } = registry({ bad: { module: './bad-result.js' } })
    const err = await failure(r.get('bad')!.invoke({}, context))
    expect(err.message).toMatch(/^function bad returned a result that cannot be sent back \(.*could not be cloned/)
    expect(err.retryable).toBe(false)
  })

  it('refuses an event that cannot be sent to a worker', async () => {
    const { registry: r } = registry({ echo: { module: './echo.js' } })
    const err = await failure(r.get('echo')!.invoke({ callback: () => 1 }, context))
    expect(err.message).toMatch(/^function echo was given an event that cannot be sent to a worker \(.*could not be cloned/)
    expect(err.retryable).toBe(false)
    await expect(r.get('echo')!.invoke('next', context)).resolves.toMatchObject({ event: 'next' })
  })

  it('names the file of a module that is missing or has no default function', async () => {
    const { registry: r, lines } = registry({ missing: { module: './nope.js' }, nodefault: { module: './no-default.js' } })
    const missing = join(FIXTURES, 'nope.js')
    expect(lines).toContainEqual(expect.objectContaining({ level: 40, msg: `function missing: module ${missing} does not exist` }))
    const err = await failure(r.get('missing')!.invoke({}, context))
    expect(err.message).toBe(`function missing could not load ${missing}: the file does not exist`)
    expect(err.retryable).toBe(false)
    const nodefault = await failure(r.get('nodefault')!.invoke({}, context))
    expect(nodefault.message).toBe(`function nodefault: ${join(FIXTURES, 'no-default.js')} has no default export that is a function; export default async (event, ctx) => result`)
  })

  it('imports a module once per worker and keeps its state between invocations', async () => {
    const { registry: r } = registry({ counter: { module: './counter.js' } }, { poolSize: 1 })
    const first = await r.get('counter')!.invoke(null, context) as { calls: number; threadId: number }
    const second = await r.get('counter')!.invoke(null, context) as { calls: number; threadId: number }
    expect(second).toEqual({ calls: first.calls + 1, threadId: first.threadId })
  })

  it('survives a worker that fails after its invocation returned', async () => {
    const { registry: r, lines } = registry({ late: { module: './leaves-timer.js' }, echo: { module: './echo.js' } }, { poolSize: 1 })
    await expect(r.get('late')!.invoke(null, context)).resolves.toBe('returned')
    await waitUntil(() => lines.some((l) => l.msg === 'a function worker failed between invocations; it is replaced'), { what: 'the log line that the failed worker is replaced' })
    await expect(r.get('echo')!.invoke('still here', context)).resolves.toMatchObject({ event: 'still here' })
  })

  it('cancels an invocation when the caller aborts', async () => {
    const { registry: r, lines } = registry({ slow: { module: './slow.js' } })
    const controller = new AbortController()
    const running = failure(r.get('slow')!.invoke({ ms: 5000 }, context, controller.signal))
    await waitUntil(() => lines.some((l) => l.msg === 'sleeping'), { what: 'the function to log that it is sleeping' })
    controller.abort()
    const err = await running
    expect(err.message).toBe('function slow was cancelled')
    expect(err.retryable).toBe(true)
  })

  it('stops a running function when closing takes too long', async () => {
    const { registry: r, lines } = registry({ slow: { module: './slow.js' } })
    const running = failure(r.get('slow')!.invoke({ ms: 10_000 }, context))
    await waitUntil(() => lines.some((l) => l.msg === 'sleeping'), { what: 'the function to log that it is sleeping' })
    const started = performance.now()
    await r.close()
    expect(performance.now() - started).toBeLessThan(4000)
    expect((await running).message).toBe('function slow was stopped: the function pool is closing')
  })

  it('refuses invocations once closed', async () => {
    const { registry: r } = registry({ echo: { module: './echo.js' } })
    await r.close()
    const err = await failure(r.get('echo')!.invoke({}, context))
    expect(err.message).toBe('function echo was not run: the function pool is closing')
  })

  it('lists its functions, with module paths resolved against the config folder', () => {
    const { registry: r } = registry({
      echo: { module: './echo.js', retry: { attempts: 2 } },
      audit: { url: 'http://127.0.0.1:1/audit' },
    })
    expect(r.names()).toEqual(['echo', 'audit'])
    expect(r.get('echo')).toMatchObject({ kind: 'module', module: join(FIXTURES, 'echo.js'), retry: { attempts: 2, initialDelay: 200 } })
    expect(r.get('audit')).toMatchObject({ kind: 'http', timeout: 5000 })
    expect(r.get('nope')).toBeUndefined()
  })
})
