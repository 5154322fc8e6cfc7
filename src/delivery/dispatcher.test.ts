import { Aedes } from 'aedes'
import { pino } from 'pino'
import { Registry } from 'prom-client'
import { afterEach, expect, it } from 'vitest'
import type { FunctionTarget, InvocationContext } from '../functions/function-target.js'
import { Publisher } from '../publisher/publisher.js'
import { RouteTable } from '../routes/route-table.js'
import { closeDatabase, openDatabase, type Db } from '../store/database.js'
import { SqliteOutboxStore } from '../store/outbox.js'
import { SqliteRouteStateStore } from '../store/route-state.js'
import { Dispatcher } from './dispatcher.js'

// Two dispatchers on one outbox, as two workers (or two nodes) would be:
// the claims alone keep them from making a delivery twice.

const log = pino({ level: 'silent' })
let broker: Aedes | undefined
let db: Db | undefined
const dispatchers: Dispatcher[] = []
afterEach(async () => {
  await Promise.all(dispatchers.splice(0).map((d) => d.close()))
  if (broker) await new Promise<void>((resolve) => broker!.close(() => resolve()))
  if (db) closeDatabase(db)
  broker = db = undefined
})

/** A function that takes a little time, and counts its invocations by request id. */
function countingFunction(): FunctionTarget & { calls: Map<string, number> } {
  const calls = new Map<string, number>()
  return {
    name: 'count',
    kind: 'module',
    timeout: 1000,
    retry: undefined,
    calls,
    async invoke(_event: unknown, context: InvocationContext) {
      calls.set(context.requestId, (calls.get(context.requestId) ?? 0) + 1)
      await new Promise((resolve) => setTimeout(resolve, 5))
      return null
    },
  }
}

it('two dispatchers on one outbox make each delivery once', async () => {
  db = openDatabase(':memory:')
  broker = await Aedes.createBroker()
  const outbox = new SqliteOutboxStore(db)
  const routes = new RouteTable(new SqliteRouteStateStore(db))
  await routes.refresh()
  routes.load({}, new Set(['count']))
  const fn = countingFunction()
  const registry = new Registry()
  const publisher = new Publisher({ broker, maxHops: 8, log, registry })
  const deliveries = Array.from({ length: 200 }, (_, i) => ({
    target: 'function:count',
    event: { i },
    context: { clientId: null, topic: 't', rule: null, requestId: `r${i}`, timestamp: Date.now(), hops: 1, fromLoop: false },
  }))
  await outbox.record(deliveries)
  for (const nodeId of ['a', 'b']) {
    // Each its own metrics, as in its own process.
    const dispatcher = new Dispatcher({ outbox, routes, functions: { get: () => fn }, publisher, log, registry: new Registry(), nodeId, concurrency: 8 })
    dispatchers.push(dispatcher)
    dispatcher.wake()
  }
  const deadline = Date.now() + 10_000
  while ((await outbox.nextDueAt()) !== undefined) {
    if (Date.now() > deadline) throw new Error(`the outbox still holds deliveries after 10 s (${fn.calls.size} of 200 made)`)
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
  expect(fn.calls.size).toBe(200)
  expect([...fn.calls.values()].filter((n) => n !== 1)).toEqual([])
})
