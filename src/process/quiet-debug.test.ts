import { expect, it } from 'vitest'
import { runProgram } from '../../test/helpers/node-program.js'

const MODULE = new URL('./quiet-debug.ts', import.meta.url).href

// Loads mqtt-packet (after quietDebugLoggers() when told to), parses a
// publish N times and writes a PUBACK, its loggers running on each, under
// V8's sampling heap profiler (which here also counts what is collected
// since). Reports what it parsed, the bytes sampled in `debug`'s own code,
// and what the `debug` that mqtt-packet sees gives.
const PROGRAM = `
import { Session } from 'node:inspector/promises'
import { createRequire } from 'node:module'
import { dirname } from 'node:path'
import { PassThrough } from 'node:stream'
import { quietDebugLoggers } from ${JSON.stringify(MODULE)}
const [mode, times] = process.argv.slice(1)
if (mode === 'quiet') quietDebugLoggers()
const require = createRequire(import.meta.url)
const mqtt = require('mqtt-packet')
const debug = require(require.resolve('debug', { paths: [dirname(require.resolve('mqtt-packet/package.json'))] }))
const parser = mqtt.parser()
let parsed = 0
parser.on('packet', (p) => { if (p.topic === 'a/b') parsed++ })
const bytes = mqtt.generate({ cmd: 'publish', topic: 'a/b', payload: Buffer.from('hi'), qos: 1, messageId: 7 })
const session = new Session()
session.connect()
await session.post('HeapProfiler.startSampling', { samplingInterval: 64, includeObjectsCollectedByMinorGC: true, includeObjectsCollectedByMajorGC: true })
for (let i = 0; i < Number(times); i++) parser.parse(bytes)
mqtt.writeToStream({ cmd: 'puback', messageId: 7 }, new PassThrough())
const { profile } = await session.post('HeapProfiler.stopSampling')
let inDebug = 0
const visit = (node) => {
  if (node.callFrame.url.endsWith('/debug/src/common.js')) inDebug += node.selfSize
  node.children.forEach(visit)
}
visit(profile.head)
console.log(JSON.stringify({ parsed, inDebug, enabled: Boolean(debug('mqtt-packet:parser').enabled), enabledFn: debug.enabled('mqtt-packet:parser'), other: Boolean(debug('other').enabled) }))
`

interface Report {
  parsed: number
  inDebug: number
  enabled: boolean
  enabledFn: boolean
  other: boolean
}

async function runWith(mode: 'quiet' | 'plain', times: number, debugEnv?: string): Promise<{ report: Report; stderr: string }> {
  const { stdout, stderr } = await runProgram(PROGRAM, { args: [mode, String(times)], env: { DEBUG: debugEnv || undefined } })
  return { report: JSON.parse(stdout.trim()) as Report, stderr }
}

it("spares mqtt-packet's loggers their argument arrays while DEBUG does not name them", async () => {
  const plain = await runWith('plain', 20_000)
  const quiet = await runWith('quiet', 20_000)
  expect(plain.report.inDebug).toBeGreaterThan(0)
  expect(quiet.report).toEqual({ parsed: 20_000, inDebug: 0, enabled: false, enabledFn: false, other: false })
  expect(quiet.stderr).toBe('')
}, 60_000)

it("gives debug's own loggers to the namespaces DEBUG names", async () => {
  const some = await runWith('quiet', 3, 'mqtt-packet:writeToStream')
  expect(some.report).toMatchObject({ parsed: 3, enabled: false, enabledFn: false, other: false })
  expect(some.stderr).toContain('mqtt-packet:writeToStream')
  expect(some.stderr).not.toContain('mqtt-packet:parser')
  const all = await runWith('quiet', 3, 'mqtt-packet:*')
  expect(all.report).toMatchObject({ parsed: 3, enabled: true, enabledFn: true, other: false })
  expect(all.stderr).toContain('mqtt-packet:parser')
}, 60_000)
