import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { MqttClient } from 'mqtt'
import { describe, expect, it } from 'vitest'
import type { Inbox } from './helpers/mqtt.js'
import { useApp } from './helpers/use-app.js'

// Rules switched on and off through the admin API, as AWS IoT's
// EnableTopicRule / DisableTopicRule: at once, saved (a restart and a
// config reload keep the switch), and undone by a reset to the config.

const TOKEN = 'rules-switch-admin-token-0123456789'
const f = useApp({ adminToken: TOKEN })

// The three rules read the same topic, the witness last: once its
// republish has arrived (and the inbox is flushed behind it), the others'
// would have arrived too, had they run.
const rules = (watchedTo = 'out/watched', watchedEnabled = '') => `
rules:
  - name: watched
    sql: SELECT * FROM 'sensors/+'
${watchedEnabled}    actions:
      - republish: { topic: '${watchedTo}' }
  - name: dormant
    enabled: false
    sql: SELECT * FROM 'sensors/+'
    actions:
      - republish: { topic: 'out/dormant' }
  - name: witness
    sql: SELECT * FROM 'sensors/+'
    actions:
      - republish: { topic: 'out/witness' }
`

interface RuleView { name: string; enabled: boolean; enabledSource: 'config' | 'api'; actions: string[]; stats: { matched: number } }

const ruleOf = async (name: string): Promise<RuleView> => ((await f.api('/rules')).rules as RuleView[]).find((r) => r.name === name)!
const state = async (name: string) => {
  const { enabled, enabledSource } = await ruleOf(name)
  return { enabled, enabledSource }
}

async function listen(): Promise<{ client: MqttClient; inbox: Inbox }> {
  const { client, inbox } = await f.connectWithInbox({ clientId: `switch-${Math.random().toString(36).slice(2)}` })
  await client.subscribeAsync('out/#', { qos: 1 })
  return { client, inbox }
}

let round = 0
/** Publishes one message to sensors/1; resolves with the topics its rules republished it to, once the witness's came and the inbox was flushed behind it. */
async function topicsOf(client: MqttClient, inbox: Inbox): Promise<string[]> {
  const payload = JSON.stringify({ round: ++round })
  await client.publishAsync('sensors/1', payload, { qos: 1 })
  await inbox.waitFor((m) => m.some((x) => x.topic === 'out/witness' && x.payload === payload), 5000, `round ${round} on out/witness`)
  await inbox.flush()
  return inbox.messages.filter((m) => m.payload === payload).map((m) => m.topic).sort()
}

describe('switching rules through the admin API', () => {
  it('disable stops a rule at once, enable brings it back; each answer and GET /api/rules say where the value comes from', async () => {
    await f.start(rules())
    const { client, inbox } = await listen()
    expect(await state('watched')).toEqual({ enabled: true, enabledSource: 'config' })
    expect(await state('dormant')).toEqual({ enabled: false, enabledSource: 'config' })
    expect(await topicsOf(client, inbox)).toEqual(['out/watched', 'out/witness'])

    const off = await f.request('/rules/watched/disable', { method: 'POST' })
    expect(off.status).toBe(200)
    expect(await off.json()).toMatchObject({ name: 'watched', enabled: false, enabledSource: 'api', actions: ['republish'], stats: { matched: 1 } })
    expect(await state('watched')).toEqual({ enabled: false, enabledSource: 'api' })
    expect(await topicsOf(client, inbox)).toEqual(['out/witness'])
    // Not matched at all: a disabled rule is not evaluated.
    expect((await ruleOf('watched')).stats.matched).toBe(1)

    expect(await f.api('/rules/watched/enable', { method: 'POST' })).toMatchObject({ name: 'watched', enabled: true, enabledSource: 'api' })
    expect(await topicsOf(client, inbox)).toEqual(['out/watched', 'out/witness'])

    // A rule the config disables can be enabled, and reset to the config's value.
    expect(await f.api('/rules/dormant/enable', { method: 'POST' })).toMatchObject({ name: 'dormant', enabled: true, enabledSource: 'api' })
    expect(await topicsOf(client, inbox)).toEqual(['out/dormant', 'out/watched', 'out/witness'])
    expect(await f.api('/rules/dormant/reset', { method: 'POST' })).toMatchObject({ name: 'dormant', enabled: false, enabledSource: 'config' })
    expect(await f.api('/rules/watched/reset', { method: 'POST' })).toMatchObject({ name: 'watched', enabled: true, enabledSource: 'config' })
    expect(await topicsOf(client, inbox)).toEqual(['out/watched', 'out/witness'])
  })

  it('a switch outlives a restart on the same folder and a config reload, until it is reset to the config\'s value', async () => {
    const first = await f.start(rules())
    const dir = first.dir
    expect((await f.request('/rules/watched/disable', { method: 'POST' })).status).toBe(200)
    expect((await f.request('/rules/dormant/enable', { method: 'POST' })).status).toBe(200)
    await f.endClients()
    await first.close()

    const t = await f.start(rules(), { dir })
    let { client, inbox } = await listen()
    expect(await state('watched')).toEqual({ enabled: false, enabledSource: 'api' })
    expect(await state('dormant')).toEqual({ enabled: true, enabledSource: 'api' })
    expect(await topicsOf(client, inbox)).toEqual(['out/dormant', 'out/witness'])

    // The file now says `enabled: true` outright, and the rule republishes elsewhere: the switch still wins.
    const file = join(t.dir, 'switchyard.yaml')
    const base = readFileSync(file, 'utf8').split('\nrules:')[0]!
    writeFileSync(file, base + rules('out/watched-again', '    enabled: true\n'))
    expect(t.app.reload()).toEqual({ ok: true, rules: 2 })
    expect(await state('watched')).toEqual({ enabled: false, enabledSource: 'api' })
    expect(await topicsOf(client, inbox)).toEqual(['out/dormant', 'out/witness'])

    expect(await f.api('/rules/watched/reset', { method: 'POST' })).toMatchObject({ enabled: true, enabledSource: 'config' })
    expect(await topicsOf(client, inbox)).toEqual(['out/dormant', 'out/watched-again', 'out/witness'])

    // A reset is saved too.
    await f.endClients()
    await t.close()
    await f.start(rules(), { dir });
    ({ client, inbox } = await listen())
    expect(await state('watched')).toEqual({ enabled: true, enabledSource: 'config' })
    expect(await state('dormant')).toEqual({ enabled: true, enabledSource: 'api' })
    expect(await topicsOf(client, inbox)).toEqual(['out/dormant', 'out/watched', 'out/witness'])
  })

  it('answers 404 for a rule that is not in the config, and 401 without the admin token', async () => {
    await f.start(rules())
    for (const what of ['enable', 'disable', 'reset']) {
      const res = await f.request(`/rules/nope/${what}`, { method: 'POST' })
      expect(res.status).toBe(404)
      expect(await res.json()).toEqual({ error: 'there is no rule nope in the config' })
    }
    const url = `${f.app.httpUrl}/api/rules/watched/disable`
    expect((await fetch(url, { method: 'POST' })).status).toBe(401)
    expect((await fetch(url, { method: 'POST', headers: { authorization: 'Bearer wrong' } })).status).toBe(401)
    expect(await state('watched')).toEqual({ enabled: true, enabledSource: 'config' })
    // Nothing was saved: the version of the route state did not move.
    expect((await f.api('/routes')).version).toBe(0)
  })
})
