import { describe, expect, it } from 'vitest'
import { parseConfig } from '../../src/config/load.js'
import { fixturePath } from '../helpers/fixtures.js'
import { Inbox } from '../helpers/mqtt.js'
import { useApp } from '../helpers/use-app.js'

// Functions are trusted code that runs in the broker's process. What they
// get is still bounded: the environment the config gives them, not the
// broker's (its secrets), and memory outside the V8 heap.

const TOKEN = 'test-admin-token-0123456789'
const f = useApp({ adminToken: TOKEN })

const SECRET = 'SWITCHYARD_TEST_BROKER_SECRET'
const READ_ENV = fixturePath('security/read-env.js')
const HOARD = fixturePath('security/hoard-buffers.js')
const ECHO = fixturePath('functions/echo.js')

/** What the environment of a function that names no variables holds. */
const BASE = process.env.NODE_ENV === undefined ? [] : ['NODE_ENV']

/** Puts `value` in the broker's environment for this test. */
function brokerVariable(name: string, value: string): void {
  const before = process.env[name]
  process.env[name] = value
  f.defer(() => {
    if (before === undefined) delete process.env[name]
    else process.env[name] = before
  })
}

async function invoke(name: string, event: unknown): Promise<{ status: number; body: any }> {
  const res = await f.request(`/functions/${name}/invoke`, { method: 'POST', body: { event } })
  return { status: res.status, body: await res.json() }
}

describe('the environment of a function', () => {
  it('holds none of the broker\'s variables', async () => {
    brokerVariable(SECRET, 'hunter2')
    await f.start(`
functions:
  peek: { module: ${READ_ENV} }
`)
    expect(await invoke('peek', { name: SECRET })).toEqual({ status: 200, body: { requestId: expect.any(String), result: { value: null, names: BASE } } })
  })

  it('holds what its config gives it, and only its own', async () => {
    brokerVariable(SECRET, 'hunter2')
    await f.start(`
functions:
  greeter: { module: ${READ_ENV}, env: { GREETING: hello, ${SECRET}: its-own } }
  plain: { module: ${READ_ENV} }
`)
    // Both share the workers: each invocation sees its own function's variables.
    for (let round = 0; round < 3; round++) {
      expect((await invoke('greeter', { name: 'GREETING' })).body.result).toEqual({ value: 'hello', names: [...BASE, 'GREETING', SECRET].sort() })
      expect((await invoke('plain', { name: 'GREETING' })).body.result).toEqual({ value: null, names: BASE })
    }
    expect((await invoke('greeter', { name: SECRET })).body.result.value).toBe('its-own')
  })
})

describe('memory a function holds outside the V8 heap', () => {
  it('past maxExternalMemory (128 MB), fails the invocation and replaces its worker; the broker keeps serving', async () => {
    await f.start(`
functions:
  hoard: { module: ${HOARD}, timeout: 20s }
  echo: { module: ${ECHO} }
`)
    const failed = await invoke('hoard', { mb: 200 })
    expect(failed.status).toBe(502)
    expect(failed.body.error).toMatch(/^function hoard held \d+ MB outside its heap \(Buffers, ArrayBuffers\), more than its maxExternalMemory of 128 MB: its worker was replaced$/)

    // Other functions run, and so does the broker.
    expect((await invoke('echo', 'after')).body.result).toMatchObject({ event: 'after' })
    const c = await f.connect()
    const inbox = new Inbox(c)
    await c.subscribeAsync('still/here', { qos: 1 })
    await c.publishAsync('still/here', 'yes', { qos: 1 })
    expect((await inbox.on('still/here')).payload).toBe('yes')
  })

  it('is checked while the function runs, not only when it returns', async () => {
    await f.start(`
functions:
  hoard: { module: ${HOARD}, timeout: 60s, maxExternalMemory: 64MB }
`)
    const started = performance.now()
    // It would hold 100 MB for 20 s before returning.
    const failed = await invoke('hoard', { mb: 100, waitMs: 20_000 })
    expect(failed.body.error).toMatch(/^function hoard held \d+ MB outside its heap \(Buffers, ArrayBuffers\), more than its maxExternalMemory of 64 MB: its worker was replaced$/)
    expect(performance.now() - started).toBeLessThan(10_000)
  })

  it('allows more to a function whose config says so', async () => {
    await f.start(`
functions:
  hoard: { module: ${HOARD}, timeout: 20s, maxExternalMemory: 256MB }
`)
    expect(await invoke('hoard', { mb: 200 })).toMatchObject({ status: 200, body: { result: { heldMb: 200 } } })
  })
})

describe('the config of env and maxExternalMemory', () => {
  it('names the file, line and column of a mistake', () => {
    const errorOf = (yaml: string) => {
      try {
        parseConfig(yaml, 'conf/switchyard.yaml')
      } catch (err) {
        return (err as Error).message
      }
      return undefined
    }
    expect(errorOf('functions:\n  f: { module: ./f.js, env: { 1X: v } }\n')).toBe('conf/switchyard.yaml:2:35: functions.f.env.1X is not a variable name: use letters, digits and _, not starting with a digit')
    expect(errorOf('functions:\n  f:\n    module: ./f.js\n    maxExternalMemory: 2MB\n')).toBe('conf/switchyard.yaml:4:24: functions.f.maxExternalMemory must be at least 16MB')
  })
})
