import { expect, it } from 'vitest'
import { runProgram } from '../../test/helpers/node-program.js'
import { newConnectionId } from './connection-info.js'

const MODULE = new URL('./connection-info.ts', import.meta.url).href

// Heap bytes that each of 20,000 kept ids holds, after full collections.
const PROGRAM = `
import { randomUUID } from 'node:crypto'
import { getHeapStatistics } from 'node:v8'
import { newConnectionId } from ${JSON.stringify(MODULE)}
const make = process.env.MAKE === 'uuid' ? randomUUID : newConnectionId
const used = () => (gc(), gc(), getHeapStatistics().used_heap_size)
const kept = new Array(20000)
const before = used()
for (let i = 0; i < kept.length; i++) kept[i] = make()
console.log((used() - before) / kept.length)
`

async function bytesPerId(make: 'uuid' | 'connection'): Promise<number> {
  const { stdout } = await runProgram(PROGRAM, { nodeFlags: ['--expose-gc'], env: { MAKE: make } })
  return Number(stdout.trim())
}

it('makes a UUID, a new one each time', () => {
  const a = newConnectionId()
  expect(a).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/)
  expect(newConnectionId()).not.toBe(a)
})

it('keeps a connection id as one flat string, not the tree of joins randomUUID returns', async () => {
  const [joined, flat] = await Promise.all([bytesPerId('uuid'), bytesPerId('connection')])
  expect(joined).toBeGreaterThan(300)
  expect(flat).toBeLessThan(100)
}, 60_000)
