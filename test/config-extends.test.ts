import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { loadConfig } from '../src/config/load.js'
import { ConfigError } from '../src/errors.js'
import { useApp } from './helpers/use-app.js'
import { waitUntil } from './helpers/wait.js'

const f = useApp()

/** Writes `files` (name -> text) in a fresh folder; returns the folder. */
function files(entries: Record<string, string>): string {
  const dir = f.tempDir()
  for (const [name, text] of Object.entries(entries)) {
    mkdirSync(join(dir, name, '..'), { recursive: true })
    writeFileSync(join(dir, name), text)
  }
  return dir
}

function errorOf(file: string): ConfigError {
  try {
    loadConfig(file)
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError)
    return err as ConfigError
  }
  throw new Error('expected a ConfigError')
}

const BASE = `listen:
  mqtt: 1884
  http: 8081
storage:
  sqlite: ./base.db
auth:
  anonymous: true
  jwt: { secretFile: ./secret }
functions:
  greet: { module: ./functions/greet.js, timeout: 2s }
acl:
  - { deny: publish, topics: ['private/#'] }
  - { allow: all, topics: ['#'] }
rules:
  - name: echo
    sql: SELECT * FROM 'in'
    actions:
      - republish: { topic: out }
`

describe('extends', () => {
  it('reads the named file first and this one on top: maps merge, lists and values replace, paths stay relative to their own file', () => {
    const dir = files({
      'example/switchyard.yaml': BASE,
      // A function's module must exist (and is found beside the file that names it).
      'example/functions/greet.js': 'export default async () => ({})\n',
      'site/switchyard.yaml': `extends: ../example/switchyard.yaml
listen:
  http: "0.0.0.0:9090"
auth:
  jwt: { secretFile: ./site-secret }
acl:
  - { allow: all, topics: ['#'] }
`,
    })
    const config = loadConfig(join(dir, 'site/switchyard.yaml'))
    expect(config.listen).toEqual({ mqtt: { host: '127.0.0.1', port: 1884 }, http: { host: '0.0.0.0', port: 9090 } })
    expect(config.storage.sqlite).toBe(join(dir, 'example/base.db'))
    expect(config.auth.anonymous).toBe(true)
    expect(config.auth.jwt?.secretFile).toBe(join(dir, 'site/site-secret'))
    expect(config.functions.greet).toMatchObject({ module: join(dir, 'example/functions/greet.js'), timeout: 2000 })
    expect(config.acl.rules).toHaveLength(1)
    expect(config.rules.map((rule) => rule.name)).toEqual(['echo'])
  })

  it('follows a chain, and an absolute path', () => {
    const dir = files({ 'a.yaml': 'listen:\n  mqtt: 1999\n', 'b.yaml': 'extends: ./a.yaml\nlog:\n  level: warn\n' })
    writeFileSync(join(dir, 'c.yaml'), `extends: ${join(dir, 'b.yaml')}\nlog:\n  level: error\n`)
    const config = loadConfig(join(dir, 'c.yaml'))
    expect([config.listen.mqtt.port, config.log.level]).toEqual([1999, 'error'])
  })

  it('reports a mistake in the file that made it, at its line', () => {
    const dir = files({
      'base.yaml': "rules:\n  - name: r\n    sql: SELECT * FORM 'in'\n",
      'top.yaml': 'extends: base.yaml\nlisten:\n  mqtt: 1884\n',
      'typo-base.yaml': 'listen:\n  mqt: 1\n',
      'typo-top.yaml': 'extends: typo-base.yaml\n',
      'yaml-base.yaml': 'rules: [\n',
      'yaml-top.yaml': 'extends: yaml-base.yaml\n',
    })
    expect(errorOf(join(dir, 'top.yaml')).message).toMatch(new RegExp(`^${join(dir, 'base.yaml')}:3:\\d+: rules\\[0\\]\\.sql of rule r does not parse`))
    expect(errorOf(join(dir, 'typo-top.yaml')).message).toBe(`${join(dir, 'typo-base.yaml')}:2:3: listen.mqt is not a known key (expected one of: mqtt, http, mqtts, https)`)
    expect(errorOf(join(dir, 'yaml-top.yaml')).file).toBe(join(dir, 'yaml-base.yaml'))
  })

  it('names the extends line when the file it names is missing, not a path, or extends it back', () => {
    const dir = files({
      'missing.yaml': 'log:\n  level: info\nextends: ./nowhere.yaml\n',
      'number.yaml': 'extends: 3\n',
      'loop-a.yaml': 'extends: loop-b.yaml\n',
      'loop-b.yaml': 'extends: loop-a.yaml\n',
    })
    expect(errorOf(join(dir, 'missing.yaml')).message).toBe(`${join(dir, 'missing.yaml')}:3:10: extends names ./nowhere.yaml, which does not exist (${join(dir, 'nowhere.yaml')})`)
    expect(errorOf(join(dir, 'number.yaml')).message).toBe(`${join(dir, 'number.yaml')}:1:10: extends must be the path of another config file`)
    expect(errorOf(join(dir, 'loop-a.yaml')).message).toBe(`${join(dir, 'loop-b.yaml')}:1:10: extends names loop-a.yaml, which extends this file again: a loop`)
    // An unknown key at the top lists extends among the known ones.
    writeFileSync(join(dir, 'typo.yaml'), 'extend: x.yaml\n')
    expect(errorOf(join(dir, 'typo.yaml')).message).toMatch(/extend is not a known key \(expected one of: listen, .*, extends\)$/)
  })

  it('reloads the rules when the file it extends changes', async () => {
    const dir = f.tempDir()
    const base = join(dir, 'rules.yaml')
    writeFileSync(base, "rules:\n  - name: first\n    sql: SELECT * FROM 'in'\n")
    const t = await f.start(`extends: ${base}\n`)
    expect(t.app.engine.rules.rules.map((r) => r.name)).toEqual(['first'])
    writeFileSync(base, "rules:\n  - name: second\n    sql: SELECT * FROM 'in'\n")
    await waitUntil(() => t.app.engine.rules.rules[0]?.name, { until: (name) => name === 'second', what: 'the watcher to swap in rule second from the extended file' })
  })
})
