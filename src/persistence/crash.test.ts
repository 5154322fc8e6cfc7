import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { afterEach, beforeEach, expect, it } from 'vitest'
import { createSqlitePersistence } from './index.js'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))
const MODULE = fileURLToPath(new URL('./index.ts', import.meta.url))

// A child process writes through the persistence as fast as it can and
// prints the number of each write once its promise has resolved; it is then
// killed with SIGKILL mid-stream. Every write it reported must be in the file,
// and a fan-out interrupted half-way must be there for every client or none.
const WRITER = `
import { createSqlitePersistence } from ${JSON.stringify(MODULE)}
const p = createSqlitePersistence({ path: process.env.SESSIONS_DB })
await p.setup({ id: 'doomed' })
await p.addSubscriptions({ id: 'c1' }, [{ topic: 'orders/#', qos: 1 }])
const subs = [{ clientId: 'c1' }, { clientId: 'c2' }, { clientId: 'c3' }]
for (let i = 0; ; i++) {
  await p.outgoingEnqueueCombi(subs, { cmd: 'publish', topic: 'orders/' + i, payload: Buffer.from(String(i)), qos: 1, brokerId: 'doomed', brokerCounter: i + 1 })
  await p.storeRetained({ cmd: 'publish', topic: 'orders/last', payload: Buffer.from(String(i)), qos: 0, retain: true })
  process.stdout.write(i + '\\n')
}
`

let dir: string
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'switchyard-persistence-'))
})
afterEach(() => rmSync(dir, { recursive: true, force: true }))

it('keeps every write whose promise resolved when the process is killed with SIGKILL', async () => {
  const file = join(dir, 'sessions.db')
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', WRITER], {
    cwd: ROOT,
    env: { ...process.env, SESSIONS_DB: file },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let stderr = ''
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
  const exited = once(child, 'exit')
  let acknowledged = -1
  createInterface({ input: child.stdout }).on('line', (line) => {
    acknowledged = Math.max(acknowledged, Number(line))
    if (acknowledged >= 500) child.kill('SIGKILL')
  })
  const [, signal] = await exited
  expect(signal, stderr).toBe('SIGKILL')
  expect(acknowledged).toBeGreaterThanOrEqual(500)

  const p = createSqlitePersistence({ path: file })
  await p.setup({ id: 'next' })
  try {
    const topics = async (clientId: string) => {
      const list: string[] = []
      for await (const packet of p.outgoingStream({ id: clientId })) list.push((packet as { topic: string }).topic)
      return list
    }
    const queue = await topics('c1')
    expect(queue.length).toBeGreaterThan(acknowledged)
    expect(queue).toEqual(Array.from({ length: queue.length }, (_, i) => `orders/${i}`))
    expect(await topics('c2')).toEqual(queue)
    expect(await topics('c3')).toEqual(queue)
    const [last] = await p.createRetainedStream('orders/last').toArray()
    expect(Number((last as { payload: Buffer }).payload.toString())).toBeGreaterThanOrEqual(acknowledged)
    expect(await p.subscriptionsByTopic('orders/1')).toHaveLength(1)
  } finally {
    await p.destroy()
  }
})
