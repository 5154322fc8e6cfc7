/**
 * A local cluster: `npm run cluster [-- --nodes 3] [--json]`.
 *
 * Starts Debian's redis-server and three Switchyard nodes (node-a, node-b,
 * node-c) on this machine, no Docker needed. Each node runs the config
 * `npm start` runs (the top-level switchyard.yaml: the chat example), with
 * its own ports, its own SQLite file and a `cluster:` section naming the
 * Redis. Everything lives in data/cluster/ and is kept between runs: Redis'
 * AOF in redis/, each node's generated config and database in node-a/...
 *
 * Ports: Redis 6379, MQTT 1883, 1884, 1885 and HTTP 8080, 8081, 8082 when
 * they are free; a port in use is stepped over (and said so). Every line
 * the processes print is prefixed with its source. Ctrl-C stops the nodes,
 * then Redis; a second Ctrl-C kills them at once. An edit of switchyard.yaml
 * is checked and passed on to the nodes' configs, which they reload.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { once } from 'node:events'
import { existsSync, mkdirSync, readFileSync, unwatchFile, watchFile, writeFileSync } from 'node:fs'
import { join, relative } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { parse } from 'yaml'
import { loadConfig } from '../src/config/load.js'
import { SwitchyardError } from '../src/errors.js'
import { build, needsBuild } from './build.js'
import { nodeConfig, nodeConfigYaml, type NodePlan } from './node-config.js'
import { Output } from './output.js'
import { portsFrom, preferredOrFree } from './ports.js'
import { findRedisServer, startRedis } from './redis.js'
import { SetupError } from './setup-error.js'

const ROOT = fileURLToPath(new URL('..', import.meta.url))
const BASE_FILE = join(ROOT, 'switchyard.yaml')
const DATA = join(ROOT, 'data/cluster')
const BIN = join(ROOT, 'bin/switchyard.js')
const PORTS = { redis: 6379, mqtt: 1883, http: 8080 }
// A node's own shutdown gives up after 5 s (src/cli/start.ts); past this it is killed.
const STOP_LIMIT_MS = 10_000

const { values } = parseArgs({ options: { nodes: { type: 'string', default: '3' }, json: { type: 'boolean', default: false } } })
const count = Number(values.nodes)
if (!Number.isInteger(count) || count < 1 || count > 26) {
  console.error('usage: npm run cluster [-- --nodes N] [--json]   (N from 1 to 26, 3 unless given; --json prints the nodes\' log lines as they are)')
  process.exit(2)
}
const ids = Array.from({ length: count }, (_, i) => `node-${String.fromCharCode(97 + i)}`)
const output = new Output({ pretty: !values.json, color: process.stdout.isTTY === true && !process.env.NO_COLOR, names: ['redis', ...ids] })

/** A process the runner started, in its own process group: the terminal's Ctrl-C reaches the runner alone, which stops them in order. */
interface Started {
  name: string
  child: ChildProcess
  exited: Promise<unknown>
}
const nodes: Started[] = []
let redis: Started | undefined
let stopping = false

function track(name: string, child: ChildProcess): Started {
  const exited = once(child, 'exit').then(([code, signal]) => {
    if (!stopping) output.say(`${name} exited (${code ?? signal})${name === 'redis' ? ': the nodes have lost their Redis' : ''}`)
  })
  output.follow(name, child.stdout!, child.stderr!)
  return { name, child, exited }
}

const running = (p: Started) => p.child.exitCode === null && p.child.signalCode === null

/** SIGTERM, and SIGKILL if it has not exited within STOP_LIMIT_MS. */
async function stop(p: Started): Promise<void> {
  if (!running(p)) return
  p.child.kill('SIGTERM')
  const timer = setTimeout(() => p.child.kill('SIGKILL'), STOP_LIMIT_MS)
  await p.exited
  clearTimeout(timer)
}

/** The nodes first (they may still write to Redis as they close), then Redis. */
async function stopEverything(code: number): Promise<never> {
  stopping = true
  unwatchFile(BASE_FILE)
  const live = nodes.filter(running)
  if (live.length > 0) output.say(`stopping ${live.map((n) => n.name).join(', ')}...`)
  await Promise.all(live.map(stop))
  if (redis && running(redis)) {
    output.say('stopping redis...')
    await stop(redis)
  }
  process.exit(code)
}

function killEverything(): void {
  for (const p of [...nodes, ...(redis ? [redis] : [])]) if (running(p)) p.child.kill('SIGKILL')
}

let signals = 0
// SIGHUP: the terminal closed. A signal's default would end the runner without its 'exit' event.
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.on(signal, () => {
    if (++signals === 1) return void stopEverything(0)
    output.say('killing everything')
    killEverything()
    process.exit(130)
  })
}
// The children do not die with the runner (their own process groups): should it end some other way, they go too.
process.on('exit', killEverything)

/** The top-level config, checked as a node would check it, so that a mistake names its line in switchyard.yaml. */
function readBase(): Record<string, unknown> {
  loadConfig(relative(process.cwd(), BASE_FILE))
  return (parse(readFileSync(BASE_FILE, 'utf8')) ?? {}) as Record<string, unknown>
}

/**
 * The admin token of the nodes, so that `/api/cluster` can be read: the one
 * in switchyard.yaml, else one made at the first run and kept in
 * data/cluster/admin-token.
 */
function adminToken(base: Record<string, any>): string {
  if (typeof base.admin?.token === 'string') return base.admin.token
  const file = join(DATA, 'admin-token')
  if (!existsSync(file)) writeFileSync(file, `${randomBytes(18).toString('base64url')}\n`, { mode: 0o600 })
  return readFileSync(file, 'utf8').trim()
}

/** Writes each node's config from the top-level one; a file whose text is unchanged is left alone (a node reloads on every write). */
function writeConfigs(base: Record<string, unknown>, plans: NodePlan[], redisUrl: string): void {
  for (const plan of plans) {
    const file = join(plan.dir, 'switchyard.yaml')
    const text = nodeConfigYaml(nodeConfig(base, ROOT, plan, redisUrl, adminToken(base)), relative(ROOT, BASE_FILE))
    let old: string | undefined
    try {
      old = readFileSync(file, 'utf8')
    } catch {}
    if (old !== text) writeFileSync(file, text)
  }
}

/** Starts a node and resolves once it logs that it started. */
function startNode(plan: NodePlan): Promise<void> {
  const child = spawn(process.execPath, [BIN, 'start', '--config', join(plan.dir, 'switchyard.yaml')], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], detached: true })
  const node = track(plan.id, child)
  nodes.push(node)
  return new Promise((resolve, reject) => {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      if (line.includes('"Switchyard started"')) resolve()
    })
    void node.exited.then(() => reject(new SetupError(`${plan.id} exited before it started; its output is above.`)))
  })
}

/** Picks the ports: the usual ones where free, else the next free ones up. */
async function plan(): Promise<{ redisPort: number; plans: NodePlan[] }> {
  const redisPort = await preferredOrFree(PORTS.redis)
  const mqtt = await portsFrom(PORTS.mqtt, count, new Set([redisPort]))
  const http = await portsFrom(PORTS.http, count, new Set([redisPort, ...mqtt]))
  const moved = [
    ...(redisPort !== PORTS.redis ? [`Redis ${redisPort}`] : []),
    ...ids.flatMap((id, i) => [
      ...(mqtt[i] !== PORTS.mqtt + i ? [`${id} MQTT ${mqtt[i]}`] : []),
      ...(http[i] !== PORTS.http + i ? [`${id} HTTP ${http[i]}`] : []),
    ]),
  ]
  if (moved.length > 0) output.say(`usual ports in use, taking others: ${moved.join(', ')}`)
  return { redisPort, plans: ids.map((id, i) => ({ id, mqttPort: mqtt[i]!, httpPort: http[i]!, dir: join(DATA, id) })) }
}

async function main(): Promise<void> {
  const redisServer = findRedisServer()
  if (needsBuild(ROOT)) {
    output.say('building (src/ is newer than dist/)...')
    await build(ROOT)
  }
  let base = readBase()
  const { redisPort, plans } = await plan()
  const redisDir = join(DATA, 'redis')
  for (const dir of [redisDir, ...plans.map((p) => p.dir)]) mkdirSync(dir, { recursive: true })

  const server = await startRedis(redisServer, redisDir, redisPort, (child) => (redis = track('redis', child)))
  writeConfigs(base, plans, server.url)
  await Promise.all(plans.map(startNode))

  watchFile(BASE_FILE, { interval: 500 }, (now, before) => {
    if (now.mtimeMs === before.mtimeMs) return
    try {
      base = readBase()
      writeConfigs(base, plans, server.url)
    } catch (err) {
      output.say(`${(err as Error).message}\n  the nodes keep the config they have`)
    }
  })

  output.say([
    '',
    `Switchyard cluster: ${count} node${count === 1 ? '' : 's'} sharing Redis at ${server.url}, data in ${relative(ROOT, DATA)}/`,
    ...plans.map((p) => `  ${p.id}   chat http://127.0.0.1:${p.httpPort}/   mqtt://127.0.0.1:${p.mqttPort}   ws://127.0.0.1:${p.httpPort}/mqtt`),
    'Open one node\'s chat in a tab and another\'s in a second tab: a room\'s messages reach both.',
    `The cluster's nodes: curl -H 'authorization: Bearer ${adminToken(base)}' http://127.0.0.1:${plans[0]!.httpPort}/api/cluster`,
    'Edits of switchyard.yaml reach every node. Ctrl-C stops the nodes, then Redis.',
    '',
  ].join('\n'))
}

main().catch((err: unknown) => {
  if (stopping) return
  const known = err instanceof SetupError || err instanceof SwitchyardError
  output.say(`npm run cluster: ${known ? err.message : err instanceof Error ? err.stack : String(err)}`)
  void stopEverything(1)
})
