import { spawnSync } from 'node:child_process'
import { mkdirSync, rmSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { beforeEach, describe, expect, it } from 'vitest'
import { loadConfig, parseConfig } from '../src/config/load.js'
import { ConfigError } from '../src/errors.js'
import { closedPort } from './helpers/net.js'
import { useApp } from './helpers/use-app.js'

const BIN = fileURLToPath(new URL('../bin/switchyard.js', import.meta.url))
const cli = (...args: string[]) => spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 20_000 })

const f = useApp()
let dir: string
beforeEach(() => {
  dir = f.tempDir()
})

function errorOf(text: string): ConfigError {
  try {
    parseConfig(text, 'conf/switchyard.yaml')
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError)
    return err as ConfigError
  }
  throw new Error('expected a ConfigError')
}

describe('config', () => {
  it('reads routes.cacheTtl beside the routes, which it is not one of', () => {
    const config = parseConfig('routes:\n  cacheTtl: 2s\n  pipe:\n    targets: [ { topic: out } ]\n', 'x.yaml')
    expect(Object.keys(config.routes)).toEqual(['pipe'])
    expect(config.routesCacheTtl).toBe(2000)
    expect(parseConfig('', 'x.yaml').routesCacheTtl).toBe(5000)
  })

  it('fills in defaults and binds bare ports to loopback, like Mosquitto 2', () => {
    const config = parseConfig('', join(dir, 'switchyard.yaml'))
    expect(config.listen.mqtt).toEqual({ host: '127.0.0.1', port: 1883 })
    expect(config.listen.http).toEqual({ host: '127.0.0.1', port: 8080 })
    expect(config.storage.sqlite).toBe(join(dir, 'data/switchyard.db'))
    expect(Object.isFrozen(config.listen)).toBe(true)
  })

  it('accepts "host:port" and :memory:', () => {
    const config = parseConfig('listen:\n  mqtt: "0.0.0.0:1884"\n  http: "[::1]:0"\nstorage:\n  sqlite: ":memory:"\n', 'x.yaml')
    expect(config.listen.mqtt).toEqual({ host: '0.0.0.0', port: 1884 })
    expect(config.listen.http).toEqual({ host: '::1', port: 0 })
    expect(config.storage.sqlite).toBe(':memory:')
  })

  it.each([
    ['a bad port', 'listen:\n  mqtt: abc\n', 2, 9, 'listen.mqtt', /must be a port number or "host:port"/],
    ['a port out of range', 'listen:\n  http: 70000\n', 2, 9, 'listen.http', /above 65535/],
    ['an unknown key', 'listen:\n  mqtt: 1883\n  websocket: 8083\n', 3, 3, 'listen.websocket', /is not a known key \(expected one of: mqtt, http, mqtts, https\)/],
    ['an unknown section', 'listen: {}\nstorag:\n  sqlite: x\n', 2, 1, 'storag', /is not a known key/],
    ['a wrong type', 'storage:\n  sqlite: 3\n', 2, 11, 'storage.sqlite', /must be a file path/],
    ['a bad log level', 'log:\n  level: loud\n', 2, 10, 'log.level', /must be one of/],
    ['a Redis address that is not a URL', 'cluster:\n  redis: localhost:6379\n', 2, 10, 'cluster.redis', /must be a Redis URL such as redis:\/\/127.0.0.1:6379/],
    ['a node id with a slash', 'cluster:\n  redis: redis://127.0.0.1:6379\n  nodeId: a/b\n', 3, 11, 'cluster.nodeId', /must be 1 to 64 letters/],
    ['a route cache time to live that is not a duration', 'routes:\n  cacheTtl: soon\n', 2, 13, 'routes.cacheTtl', /must be a duration/],
    ['a route name with a space', 'routes:\n  "a b":\n    targets: [ { topic: t } ]\n', 3, 5, 'routes.a b', /must be a route name/],
    ['a node timeout under three heartbeats', 'cluster:\n  redis: redis://r:6379\n  heartbeat: 1s\n  nodeTimeout: 2s\n', 4, 16, 'cluster.nodeTimeout', /must be at least three heartbeats/],
  ])('names file, line, column and key for %s', (_what, text, line, column, key, message) => {
    const err = errorOf(text)
    expect([err.file, err.line, err.column, err.key]).toEqual(['conf/switchyard.yaml', line, column, key])
    expect(err.message).toMatch(message)
    expect(err.message.startsWith(`conf/switchyard.yaml:${line}:${column}: ${key} `)).toBe(true)
    expect(err.code).toBe('SY_CONFIG_INVALID')
  })

  it('names the line and column of broken YAML', () => {
    // The over-indented line turns "1883" into the key of a nested mapping, which YAML refuses there.
    const err = errorOf('listen:\n  mqtt: 1883\n   http: 8080\n')
    expect(err.code).toBe('SY_CONFIG_YAML')
    expect([err.line, err.column]).toEqual([2, 9])
    expect(err.message).toBe('conf/switchyard.yaml:2:9: the config file is not valid YAML: Nested mappings are not allowed in compact mappings')
  })

  it('refuses duplicate keys', () => {
    expect(errorOf('listen:\n  mqtt: 1\n  mqtt: 2\n').message).toMatch(/:3:3: the config file is not valid YAML: Map keys must be unique/)
  })

  it('says when the file is missing', () => {
    expect(() => loadConfig(join(dir, 'nope.yaml'))).toThrow(/nope.yaml: the config file does not exist/)
  })

  it("refuses a function's module file that is not there, looked for from the config file's folder", () => {
    const file = join(dir, 'conf', 'switchyard.yaml')
    mkdirSync(join(dir, 'conf'))
    writeFileSync(file, 'functions:\n  backlog:\n    module: ./fn/backlog.js\n    timeout: 3s\n')
    const missing = join(dir, 'conf/fn/backlog.js')
    const err = (() => {
      try {
        loadConfig(file)
      } catch (e) {
        return e as ConfigError
      }
      throw new Error('expected a ConfigError')
    })()
    expect(err).toBeInstanceOf(ConfigError)
    expect([err.code, err.line, err.column, err.key]).toEqual(['SY_CONFIG_INVALID', 3, 13, 'functions.backlog.module'])
    expect(err.message).toBe(`${file}:3:13: functions.backlog.module names a file that does not exist: ${missing}`)
    mkdirSync(missing, { recursive: true })
    expect(() => loadConfig(file)).toThrow(`functions.backlog.module names a folder, not a JavaScript file: ${missing}`)
    rmSync(missing, { recursive: true })
    writeFileSync(missing, 'export default async () => 1\n')
    expect(loadConfig(file).functions.backlog).toMatchObject({ module: missing })
  })
})

describe('switchyard validate and start', () => {
  it('validate exits 0 for a good file and 1 with file:line:col for a bad one', () => {
    const good = join(dir, 'good.yaml')
    writeFileSync(good, 'listen:\n  mqtt: 1883\n')
    const ok = cli('validate', '--config', good)
    expect(ok.status).toBe(0)
    expect(ok.stdout).toContain('is valid')

    const bad = join(dir, 'bad.yaml')
    writeFileSync(bad, 'listen:\n  mqtt: 1883\n  htp: 80\n')
    const failed = cli('validate', '--config', bad)
    expect(failed.status).toBe(1)
    expect(failed.stderr.trim()).toBe(`switchyard: ${bad}:3:3: listen.htp is not a known key (expected one of: mqtt, http, mqtts, https)`)
  })

  it('start refuses a bad config and starts nothing', () => {
    const bad = join(dir, 'bad.yaml')
    writeFileSync(bad, `listen:\n  mqtt: 0\n  http: 0\nstorage:\n  sqlite: ./x.db\n  extra: 1\n`)
    const result = cli('start', '--config', bad)
    expect(result.status).toBe(1)
    expect(result.stderr).toContain(`${bad}:6:3: storage.extra is not a known key`)
    expect(result.stdout).not.toContain('Switchyard started')
  })

  it('start names the port in use and exits 1', async () => {
    const port = await f.listen(createServer())
    const file = join(dir, 'busy.yaml')
    writeFileSync(file, `listen:\n  mqtt: ${port}\n  http: 0\nstorage:\n  sqlite: ":memory:"\n`)
    const result = cli('start', '--config', file)
    expect(result.status).toBe(1)
    expect(result.stderr).toContain(`cannot listen for MQTT on 127.0.0.1:${port}: the port is already in use`)
  })

  it('start says which Redis it cannot reach and exits 1', async () => {
    const port = await closedPort()
    const file = join(dir, 'cluster.yaml')
    writeFileSync(file, `listen:\n  mqtt: 0\n  http: 0\nstorage:\n  sqlite: ./x.db\ncluster:\n  redis: redis://:secret@127.0.0.1:${port}\n`)
    const result = cli('start', '--config', file)
    expect(result.status).toBe(1)
    expect(result.stderr).toContain(`cannot reach Redis at redis://:***@127.0.0.1:${port} (cluster.redis): connect ECONNREFUSED 127.0.0.1:${port}`)
    expect(result.stderr).not.toContain('secret')
    expect(result.stdout).not.toContain('Switchyard started')
  })

  it.each([
    [['start', '--help'], 'switchyard start [--config FILE] [--log-level LEVEL]'],
    [['start', '-h', '--config', 'nope.yaml'], 'switchyard start'],
    [['validate', '--help'], 'switchyard validate [--config FILE]'],
    [['passwd', '--help'], 'switchyard passwd'],
    [['rules', '--help'], 'switchyard rules <command>'],
    [['rules', 'test', '--help'], 'switchyard rules test [--config FILE] --topic T'],
    [['help', 'start'], 'switchyard start'],
    [['help', 'rules'], 'switchyard rules <command>'],
    [['help', 'rules', 'test'], 'switchyard rules test'],
    [['help'], 'switchyard <command>'],
  ])('%j prints its usage on stdout and exits 0, running nothing', (args, usage) => {
    const result = cli(...args)
    expect([result.status, result.stderr]).toEqual([0, ''])
    expect(result.stdout.startsWith(`Usage: ${usage}`), result.stdout).toBe(true)
    expect(result.stdout).toMatch(/-h, --help/)
  })

  it('help of a command that does not exist is a usage error', () => {
    const result = cli('help', 'launch')
    expect(result.status).toBe(2)
    expect(result.stderr).toContain('unknown command "launch"')
  })

  it('validate without --config reads switchyard.yaml in the working folder, as start does', () => {
    const run = (cwd: string) => spawnSync(process.execPath, [BIN, 'validate'], { cwd, encoding: 'utf8', timeout: 20_000 })
    const empty = run(dir)
    expect(empty.status).toBe(1)
    expect(empty.stderr).toMatch(/^switchyard: switchyard\.yaml: the config file does not exist/)
    writeFileSync(join(dir, 'switchyard.yaml'), 'listen:\n  mqtt: 1883\n')
    const ok = run(dir)
    expect([ok.status, ok.stdout, ok.stderr]).toEqual([0, 'switchyard.yaml is valid\n', ''])
  })

  it('prints usage for an unknown command', () => {
    const result = cli('launch')
    expect(result.status).toBe(2)
    expect(result.stderr).toContain('unknown command "launch"')
    expect(result.stderr).toContain('Usage: switchyard')
  })
})
