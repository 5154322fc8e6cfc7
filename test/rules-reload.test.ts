import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { MqttClient } from 'mqtt'
import { describe, expect, it } from 'vitest'
import { fixturePath } from './helpers/fixtures.js'
import { Inbox } from './helpers/mqtt.js'
import { useApp } from './helpers/use-app.js'
import { waitUntil } from './helpers/wait.js'

const f = useApp()

const rule = (name: string, from: string, to: string) => `
rules:
  - name: ${name}
    sql: SELECT * FROM '${from}'
    actions:
      - republish: { topic: '${to}' }
`

async function roundTrip(inbox: Inbox, c: MqttClient, topic: string, expected: string): Promise<void> {
  const before = inbox.messages.length
  await c.publishAsync(topic, '{}', { qos: 1 })
  await inbox.waitFor((m) => m.length > before, 3000, `a message on ${expected}`)
  expect(inbox.messages.at(-1)!.topic).toBe(expected)
}

describe('hot reload', () => {
  it('swaps the rule set when the file changes, and keeps it when the change is invalid', async () => {
    const t = await f.start(rule('first', 'in', 'out/first'))
    const client = await f.connect()
    const inbox = new Inbox(client)
    await client.subscribeAsync('out/#', { qos: 1 })
    await roundTrip(inbox, client, 'in', 'out/first')

    const file = join(t.dir, 'switchyard.yaml')
    const base = readFileSync(file, 'utf8').split('\nrules:')[0]!
    // A valid change, picked up by the file watcher.
    writeFileSync(file, base + rule('second', 'in', 'out/second'))
    await waitUntil(() => t.app.engine.rules.rules[0]?.name, { until: (name) => name === 'second', timeout: 5000, what: 'the watcher to swap in rule second' })
    await roundTrip(inbox, client, 'in', 'out/second')

    // Bad SQL: the error names the file, line and column, and the rules stay.
    writeFileSync(file, base + rule('third', 'in', 'out/third').replace("SELECT * FROM 'in'", "SELECT * FORM 'in'"))
    const result = t.app.reload()
    expect(result.ok).toBe(false)
    if (!result.ok) {
      expect(result.error.message).toMatch(new RegExp(`^${file.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}:\\d+:\\d+: rules\\[0\\]\\.sql of rule third does not parse: .*column`))
    }
    await roundTrip(inbox, client, 'in', 'out/second')

    // Broken YAML: the same.
    writeFileSync(file, base + 'rules: [\n')
    expect(t.app.reload().ok).toBe(false)
    await roundTrip(inbox, client, 'in', 'out/second')
    expect(t.app.engine.rules.rules.map((r) => r.name)).toEqual(['second'])
  })

  it('rereads the file on SIGHUP in a running switchyard', async () => {
    // Covered by the same reload() the CLI binds to SIGHUP; here the signal path itself.
    const file = f.writeConfig(`listen:\n  mqtt: 0\n  http: 0\nstorage:\n  sqlite: ":memory:"\n${rule('one', 'in', 'out/one')}`)
    const child = await f.startChild(file)
    const client = await f.connect(child.mqttUrl)
    const inbox = new Inbox(client)
    await client.subscribeAsync('out/#', { qos: 1 })
    await roundTrip(inbox, client, 'in', 'out/one')
    writeFileSync(file, readFileSync(file, 'utf8').replace('out/one', 'out/two'))
    child.process.kill('SIGHUP')
    await waitUntil(async () => {
      await client.publishAsync('in', '{}', { qos: 1 })
      return inbox.messages.at(-1)?.topic
    }, { until: (topic) => topic === 'out/two', timeout: 5000, interval: 100, what: 'the reread rule to republish to out/two' })
  })
})

describe('hot reload of functions and routes', () => {
  it('puts added functions and changed routes in force, and refuses to drop a function an HTTP entry still answers with', async () => {
    const tag = fixturePath('router/tag.js')
    const functions = (names: string[]) => `functions:\n${names.map((n) => `  ${n}: { module: ${tag} }`).join('\n')}\n`
    const routing = (target: string) => `routes:\n  handler:\n    targets: [ { function: ${target} } ]\nrules:\n  - name: direct\n    sql: SELECT * FROM 'direct'\n    actions:\n      - invoke: { function: v1 }\n  - name: routed\n    sql: SELECT * FROM 'routed'\n    actions:\n      - invoke: { route: handler }\n`
    const t = await f.start(`${functions(['gateway'])}http:\n  - { method: POST, path: /tag, function: gateway }\n`)
    const file = join(t.dir, 'switchyard.yaml')
    const base = readFileSync(file, 'utf8').split('functions:')[0]!
    const gateway = 'http:\n  - { method: POST, path: /tag, function: gateway }\n'
    const client = await f.connect()
    const inbox = new Inbox(client)
    await client.subscribeAsync(['out/#', '$events/deadletter/+'], { qos: 1 })

    // Functions and a route that did not exist at start.
    writeFileSync(file, base + functions(['gateway', 'v1', 'v2']) + gateway + routing('v1'))
    expect(t.app.reload()).toEqual({ ok: true, rules: 2 })
    await roundTrip(inbox, client, 'direct', 'out/v1')
    await roundTrip(inbox, client, 'routed', 'out/v1')

    // The route repointed in the file.
    writeFileSync(file, base + functions(['gateway', 'v1', 'v2']) + gateway + routing('v2'))
    expect(t.app.reload().ok).toBe(true)
    await roundTrip(inbox, client, 'routed', 'out/v2')

    // The HTTP entries answer until a restart: their function cannot go before.
    writeFileSync(file, base + functions(['v1', 'v2']) + routing('v2'))
    const refused = t.app.reload()
    expect(refused.ok).toBe(false)
    if (!refused.ok) expect(refused.error.message).toBe(`${file}: function gateway answers POST /tag until the next restart (http entries change only then); keep it until then`)
    const res = await fetch(`${t.httpUrl}/tag`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' })
    expect(res.status).toBe(200)
    await roundTrip(inbox, client, 'routed', 'out/v2')
    expect(inbox.messages.filter((m) => m.topic.startsWith('$events/deadletter/'))).toEqual([])
  })
})
