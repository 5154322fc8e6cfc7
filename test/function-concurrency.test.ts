import { pino } from 'pino'
import { describe, expect, it } from 'vitest'
import { ActionError } from '../src/errors.js'
import type { FunctionHost, InvocationContext } from '../src/functions/function-target.js'
import { FunctionRegistry } from '../src/functions/registry.js'
import { functionsSchema } from '../src/functions/schema.js'
import { fixturePath } from './helpers/fixtures.js'
import { useApp } from './helpers/use-app.js'

const context: InvocationContext = { clientId: 'alice', topic: 't', rule: 'r', requestId: 'req-1' }
const host: FunctionHost = { publish: async () => {}, queryStore: async () => [] }
type Nap = { threadId: number; started: number; ended: number }

const f = useApp()

function registry(functions: Record<string, unknown>, poolSize: number) {
  const r = FunctionRegistry.create(functionsSchema.parse(functions), { host, log: pino({ level: 'silent' }), configDir: fixturePath('functions/'), poolSize })
  f.defer(() => r.close())
  return r
}

async function failure(promise: Promise<unknown>): Promise<ActionError> {
  const err = await promise.then(() => undefined, (e: unknown) => e)
  expect(err).toBeInstanceOf(ActionError)
  return err as ActionError
}

const overlapping = (naps: Nap[]) => Math.max(...naps.map((n) => n.started)) < Math.min(...naps.map((n) => n.ended))

describe('concurrency of a local function', () => {
  it('runs one invocation at a time on a thread by default, and up to `concurrency` at once when its config says so', async () => {
    const r = registry({ one: { module: './nap.js' }, four: { module: './nap.js', concurrency: 4 } }, 1)
    const one = await Promise.all([1, 2, 3].map(() => r.get('one')!.invoke({ sleep: 100 }, context))) as Nap[]
    expect(overlapping(one)).toBe(false)
    const four = await Promise.all([1, 2, 3, 4].map(() => r.get('four')!.invoke({ sleep: 300 }, context))) as Nap[]
    expect(new Set(four.map((n) => n.threadId)).size).toBe(1)
    expect(overlapping(four)).toBe(true)
  })

  it('stops the invocations running beside one that overruns its timeout, retryably; a task not begun there and another function run elsewhere', async () => {
    const r = registry({ nap: { module: './nap.js', concurrency: 3, timeout: '1s' }, echo: { module: './echo.js' } }, 1)
    // Asleep for 800 ms (its thread free to begin others), then it spins past its 1 s.
    const spinner = failure(r.get('nap')!.invoke({ sleep: 800, spin: true }, context))
    await new Promise((resolve) => setTimeout(resolve, 400))
    const beside = [failure(r.get('nap')!.invoke({ sleep: 5000 }, context)), failure(r.get('nap')!.invoke({ sleep: 5000 }, context))]
    const otherFunction = r.get('echo')!.invoke('elsewhere', context)
    await new Promise((resolve) => setTimeout(resolve, 500))
    // Given to the spinning thread, which cannot begin it: it runs on the thread that replaces it.
    const notBegun = r.get('nap')!.invoke({ sleep: 0 }, context)

    expect((await spinner).message).toBe('function nap timed out after 1000 ms')
    for (const err of await Promise.all(beside)) {
      expect(err.message).toBe('function nap was stopped with its worker: another of its invocations running beside it overran its timeout or was cancelled')
      expect(err.retryable).toBe(true)
    }
    await expect(otherFunction).resolves.toMatchObject({ event: 'elsewhere' })
    await expect(notBegun).resolves.toMatchObject({ threadId: expect.any(Number) })
  })

  it('moves a task waiting behind a long invocation to a thread that has become free', async () => {
    const r = registry({ nap: { module: './nap.js', timeout: '10s' } }, 2)
    const long = r.get('nap')!.invoke({ sleep: 3000 }, context) as Promise<Nap>
    const short = r.get('nap')!.invoke({ sleep: 100 }, context) as Promise<Nap>
    // Both threads are busy: it waits behind one of them, the long one first.
    const third = r.get('nap')!.invoke({ sleep: 0 }, context) as Promise<Nap>
    const [s, t] = await Promise.all([short, third])
    expect(t.ended - s.ended).toBeLessThan(1000)
    expect(t.threadId).toBe(s.threadId)
    expect((await long).ended).toBeGreaterThan(t.ended)
  })

  it('refuses a concurrency that is not a whole number from 1 to 1000', () => {
    for (const concurrency of [0, 1.5, 1001, 'many']) {
      const parsed = functionsSchema.safeParse({ fn: { module: './nap.js', concurrency } })
      expect(parsed.success).toBe(false)
      expect(parsed.error?.issues[0]?.message).toMatch(/whole number from 1 to 1000|concurrency/)
    }
  })
})
