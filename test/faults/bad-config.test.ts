import { execFile } from 'node:child_process'
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { beforeEach, describe, expect, it } from 'vitest'
import type { ChildBroker } from '../helpers/child.js'
import { end, Inbox } from '../helpers/mqtt.js'
import { useApp } from '../helpers/use-app.js'
import { waitUntil } from '../helpers/wait.js'

// Mistakes in the config file: each is one sentence naming the file, line
// and column, from `switchyard validate`, from `switchyard start` (which then
// starts nothing), and in the log of a running broker that rereads the file
// (on change, or on SIGHUP) and keeps the config it runs.
//
// Beside test/config.test.ts (schema mistakes through parseConfig, an unknown
// top-level key through both commands) and test/rules-reload.test.ts (reload()
// refusing bad SQL and broken YAML in-process).

const BIN = fileURLToPath(new URL('../../bin/switchyard.js', import.meta.url))
const RELOAD_FAILED = 'config not reloaded: the running config stays'

interface Mistake {
  what: string
  /** The whole file; `topic` is where the good rule republishes, so that applying any of it would show. */
  text(topic: string): string
  line: number
  column: number
  /** What follows `file:line:col: `; given the config file's folder when it names a path there. */
  sentence: string | ((folder: string) => string)
}

const sentenceOf = (m: Mistake, file: string) => typeof m.sentence === 'string' ? m.sentence : m.sentence(dirname(file))

const HEAD = `listen: { mqtt: 0, http: 0 }
storage: { sqlite: ./data/switchyard.db }
rules:
  - name: keep
    sql: SELECT * FROM 'in'
    actions:
      - republish: { topic: 'TOPIC' }
`
const head = (topic: string) => HEAD.replace('TOPIC', topic)

const MISTAKES: Mistake[] = [
  {
    what: 'broken YAML (a tab for indentation)',
    text: (topic) => `${head(topic)}  - name: second\n\tsql: SELECT * FROM 'x'\n`,
    line: 9,
    column: 1,
    sentence: 'the config file is not valid YAML: Tabs are not allowed as indentation',
  },
  {
    what: 'broken YAML (a quote never closed)',
    text: (topic) => `${head(topic)}  - name: second\n    sql: "SELECT * FROM 'x'\n    actions: []\n`,
    line: 9,
    column: 10,
    sentence: 'the config file is not valid YAML: Missing closing "quote',
  },
  {
    what: 'an unknown key',
    text: (topic) => `${head(topic)}  - name: second\n    sql: SELECT * FROM 'x'\n    actons: []\n`,
    line: 10,
    column: 5,
    sentence: 'rules[1].actons is not a known key (expected one of: name, description, sql, actions, errorAction, enabled)',
  },
  {
    what: 'bad SQL',
    text: (topic) => `${head(topic)}  - name: hot\n    sql: >-\n      SELECT temp FROM 'sensors/+'\n      WHERE temp > > 30\n`,
    line: 11,
    column: 20,
    sentence: "rules[1].sql of rule hot does not parse: expected an expression but found '>' at column 43",
  },
  {
    what: 'a route to a missing function',
    text: (topic) => `${head(topic)}functions:\n  real: { url: 'http://127.0.0.1:9/real' }\nroutes:\n  handler:\n    targets:\n      - { function: real, weight: 9 }\n      - { function: ghost, weight: 1 }\n`,
    line: 14,
    column: 21,
    sentence: 'routes.handler.targets[1].function names function ghost, which is not defined under functions',
  },
  {
    what: 'a route cycle',
    text: (topic) => `${head(topic)}routes:\n  a:\n    targets: [ { route: b } ]\n  b:\n    targets: [ { route: a } ]\n`,
    line: 10,
    column: 5,
    sentence: 'routes.a forms a cycle: a → b → a',
  },
  {
    // Without its file every invocation fails; the chat's backlog would be lost without a word.
    what: "a function's module file that does not exist",
    text: (topic) => `${head(topic)}functions:\n  backlog: { module: ./functions/backlog.js }\n`,
    line: 9,
    column: 22,
    sentence: (folder) => `functions.backlog.module names a file that does not exist: ${join(folder, 'functions/backlog.js')}`,
  },
]

const f = useApp()
let dir: string
let child: ChildBroker | undefined
beforeEach(() => {
  dir = f.tempDir('switchyard-bad-config-')
})

/** Runs the command line; a `start` that did start is stopped after `ms`. */
function cli(args: string[], ms = 20_000): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { timeout: ms, encoding: 'utf8' }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : null) : 0, stdout, stderr })
    })
  })
}

describe('switchyard validate and start', () => {
  it.each(MISTAKES)('refuse $what with one sentence naming the file, line and column', async (m) => {
    const file = join(dir, 'switchyard.yaml')
    writeFileSync(file, m.text('out/kept'))
    const [validate, start] = await Promise.all([cli(['validate', '--config', file]), cli(['start', '--config', file])])
    const expected = `switchyard: ${file}:${m.line}:${m.column}: ${sentenceOf(m, file)}\n`
    expect([validate.code, validate.stderr, validate.stdout]).toEqual([1, expected, ''])
    expect([start.code, start.stderr, start.stdout]).toEqual([1, expected, ''])
  })

  it('start names the line of a listen port already in use; validate does not bind, and passes', async () => {
    const port = await f.listen(createServer())
    const file = join(dir, 'switchyard.yaml')
    writeFileSync(file, `listen:\n  mqtt: 0\n  http: ${port}\nstorage: { sqlite: ':memory:' }\n`)
    const [validate, start] = await Promise.all([cli(['validate', '--config', file]), cli(['start', '--config', file])])
    expect(start.code).toBe(1)
    expect(start.stderr).toBe(`switchyard: ${file}:3:9: listen.http: cannot listen for HTTP on 127.0.0.1:${port}: the port is already in use\n`)
    expect(start.stdout).not.toContain('Switchyard started')
    // The port is free or taken only when the broker starts; a config is
    // often validated beside the broker that holds its ports.
    expect([validate.code, validate.stdout]).toEqual([0, `${file} is valid\n`])
  })
})

describe('a running broker rereading a bad config', () => {
  /** Starts a child on `file` with the good rule, and a client that sees where `in` is republished. */
  async function startGood(file: string, configPath = file): Promise<{ roundTrip(): Promise<string> }> {
    writeFileSync(file, head('out/kept'))
    child = await f.startChild(configPath)
    const client = await f.connect(child.mqttUrl)
    const inbox = new Inbox(client)
    await client.subscribeAsync('out/#', { qos: 1 })
    return {
      async roundTrip() {
        const before = inbox.messages.length
        await client.publishAsync('in', '{}', { qos: 1 })
        await inbox.count(before + 1)
        return inbox.messages[before]!.topic
      },
    }
  }
  const refusals = () => child!.logs.filter((l) => l.msg === RELOAD_FAILED)

  it('keeps the running rules when the file is changed to each mistake, and logs it with file:line:col', async () => {
    const file = join(dir, 'switchyard.yaml')
    const broker = await startGood(file)
    expect(await broker.roundTrip()).toBe('out/kept')
    for (const m of MISTAKES) {
      const seen = refusals().length
      writeFileSync(file, m.text('out/changed'))
      await waitUntil(() => refusals().length > seen, { timeout: 5000, what: `the refusal of ${m.what} in the log` })
      expect(refusals().at(-1)!.err, m.what).toBe(`${file}:${m.line}:${m.column}: ${sentenceOf(m, file)}`)
      expect(refusals().at(-1)!.level, m.what).toBe(50)
      expect(await broker.roundTrip(), m.what).toBe('out/kept')
    }
    // The file is still watched: a good change takes.
    writeFileSync(file, head('out/changed'))
    await waitUntil(() => broker.roundTrip(), { until: (topic) => topic === 'out/changed', timeout: 5000, what: 'the good change to take' })
  })

  it('does the same on SIGHUP', async () => {
    // The file sits behind a symlink, so the watcher (on the link's folder)
    // does not see it change: only SIGHUP makes the broker read it again.
    const real = join(dir, 'real')
    mkdirSync(real)
    const file = join(real, 'switchyard.yaml')
    const link = join(dir, 'switchyard.yaml')
    symlinkSync(file, link)
    const broker = await startGood(file, link)
    for (const m of MISTAKES) {
      const seen = refusals().length
      writeFileSync(file, m.text('out/changed'))
      child!.process.kill('SIGHUP')
      await waitUntil(() => refusals().length > seen, { timeout: 5000, what: `the refusal of ${m.what} in the log` })
      expect(refusals().at(-1)!.err, m.what).toBe(`${link}:${m.line}:${m.column}: ${sentenceOf(m, link)}`)
      expect(await broker.roundTrip(), m.what).toBe('out/kept')
    }
    writeFileSync(file, head('out/changed'))
    expect(await broker.roundTrip()).toBe('out/kept')
    child!.process.kill('SIGHUP')
    await waitUntil(() => broker.roundTrip(), { until: (topic) => topic === 'out/changed', timeout: 5000, what: 'the good change to take on SIGHUP' })
  })

  it('keeps its listener when the file moves it to a port in use, and says the change waits for a restart', async () => {
    const port = await f.listen(createServer())
    const file = join(dir, 'switchyard.yaml')
    const broker = await startGood(file)
    writeFileSync(file, head('out/changed').replace('mqtt: 0', `mqtt: ${port}`))
    await waitUntil(() => child!.logs.some((l) => l.msg === 'listen changes take effect at the next restart'), { timeout: 5000, what: 'the log line that listen changes wait for a restart' })
    // The rest of the change is valid and applies; the broker serves where it did.
    expect(await broker.roundTrip()).toBe('out/changed')
    const other = await f.connect(child!.mqttUrl)
    expect(other.connected).toBe(true)
    await end(other, true)
    expect(refusals()).toEqual([])
  })
})
