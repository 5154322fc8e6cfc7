import { describe, expect, it } from 'vitest'
import { parseConfig } from '../../src/config/load.js'
import { ConfigError } from '../../src/errors.js'
import { fixturePath } from '../helpers/fixtures.js'
import { Inbox } from '../helpers/mqtt.js'
import { useApp } from '../helpers/use-app.js'

// `$` topics are the broker's own: other rules act on `$events/presence/...`
// as the broker's word. A rule or a function that takes its topic from a
// message must not let the message's sender speak with that voice.

const TOKEN = 'test-admin-token-0123456789'
const f = useApp({ adminToken: TOKEN })

const FORGED = '$events/presence/disconnected/victim'

/** A rule that relays to a topic named in the payload, and one that acts on disconnections. */
const relayRules = (flag: string) => `
rules:
  - name: relay
    sql: SELECT * FROM 'relay/in'
    actions:
      - republish: { topic: '\${to}'${flag} }
    errorAction:
      republish: { topic: 'errors/relay' }
  - name: offline
    sql: SELECT clientId FROM '$events/presence/disconnected/+'
    actions:
      - republish: { topic: 'went-offline/\${clientId}' }
`

describe('republish to a topic a message names', () => {
  it('refuses a $ topic: the action fails, is not retried, is counted, and no rule sees a forged event', async () => {
    await f.start(relayRules(''))
    const watcher = await f.connect()
    const inbox = new Inbox(watcher)
    await watcher.subscribeAsync(['errors/relay', 'went-offline/#', '$events/presence/disconnected/#'], { qos: 1 })

    const attacker = await f.connect({ clientId: 'attacker' })
    await attacker.publishAsync('relay/in', JSON.stringify({ to: FORGED, clientId: 'victim' }), { qos: 1 })

    const doc = JSON.parse((await inbox.on('errors/relay')).payload) as { failures: Array<Record<string, unknown>> }
    expect(doc.failures).toEqual([expect.objectContaining({
      failedAction: 'republish',
      failedResource: FORGED,
      retryable: false,
      errorMessage: `cannot republish to "${FORGED}": a topic starting with $ is the broker's own; add allowSystemTopics: true to the republish action to publish there`,
    })])
    await inbox.flush()
    expect(inbox.messages.map((m) => m.topic)).toEqual(['errors/relay'])
    expect(await f.metric('switchyard_rule_action_failure_total{rule="relay",action="0",kind="republish"}')).toBe(1)
  })

  it('publishes to a $ topic when the action has allowSystemTopics: true', async () => {
    await f.start(relayRules(', allowSystemTopics: true'))
    const watcher = await f.connect()
    const inbox = new Inbox(watcher)
    await watcher.subscribeAsync(['went-offline/#'], { qos: 1 })
    const sender = await f.connect()
    await sender.publishAsync('relay/in', JSON.stringify({ to: FORGED, clientId: 'victim' }), { qos: 1 })
    expect((await inbox.on('went-offline/victim')).payload).toBe('{"clientId":"victim"}')
  })

  it('refuses a constant $ topic without the flag when the config loads, naming the place', () => {
    const yaml = 'rules:\n  - name: r\n    sql: SELECT * FROM \'a\'\n    actions:\n      - republish: { topic: \'$events/custom\' }\n'
    let error: unknown
    try {
      parseConfig(yaml, 'conf/switchyard.yaml')
    } catch (err) {
      error = err
    }
    expect(error).toBeInstanceOf(ConfigError)
    expect((error as ConfigError).message).toBe('conf/switchyard.yaml:5:29: rules[0].actions[0].republish.topic starts with $, a topic of the broker\'s own: add allowSystemTopics: true to publish there')
    expect(() => parseConfig(yaml.replace("'$events/custom' }", "'$events/custom', allowSystemTopics: true }"), 'x.yaml')).not.toThrow()
  })
})

describe('ctx.publish', () => {
  const functions = (extra: string) => `
functions:
  forward: { module: ${fixturePath('security/publish-to.js')}${extra} }
`

  it('refuses a $ topic unless the function has publishSystemTopics: true', async () => {
    await f.start(functions(''))
    const watcher = await f.connect()
    const inbox = new Inbox(watcher)
    await watcher.subscribeAsync(['$events/presence/#', 'fine/#'], { qos: 1 })

    const refused = await f.request('/functions/forward/invoke', { method: 'POST', body: { event: { topic: FORGED } } })
    expect(refused.status).toBe(502)
    expect(((await refused.json()) as { error: string }).error).toBe(`function forward threw: ctx.publish: cannot publish to "${FORGED}": a topic starting with $ is the broker's own; add publishSystemTopics: true to the function's config to publish there`)
    // A topic of its own still goes through: the function runs, only the $ topic is refused.
    expect(await f.api('/functions/forward/invoke', { method: 'POST', body: { event: { topic: 'fine/1' } } })).toMatchObject({ result: { published: 'fine/1' } })
    await inbox.on('fine/1')
    await inbox.flush()
    expect(inbox.messages.map((m) => m.topic)).toEqual(['fine/1'])
  })

  it('publishes to a $ topic when the function is allowed to', async () => {
    await f.start(functions(', publishSystemTopics: true'))
    const watcher = await f.connect()
    const inbox = new Inbox(watcher)
    await watcher.subscribeAsync('$events/custom/#', { qos: 1 })
    expect(await f.api('/functions/forward/invoke', { method: 'POST', body: { event: { topic: '$events/custom/1' } } })).toMatchObject({ result: { published: '$events/custom/1' } })
    expect((await inbox.on('$events/custom/1')).payload).toBe('forwarded')
  })

  it('refuses a topic with a wildcard, as republish does', async () => {
    await f.start(functions(''))
    const watcher = await f.connect()
    const inbox = new Inbox(watcher)
    await watcher.subscribeAsync(['fine/#', 'plus/+'], { qos: 1 })
    for (const topic of ['plus/+', 'fine/#']) {
      const res = await f.request('/functions/forward/invoke', { method: 'POST', body: { event: { topic } } })
      expect(res.status).toBe(502)
      expect(((await res.json()) as { error: string }).error).toBe(`function forward threw: ctx.publish: cannot publish to "${topic}": a topic name must not contain wildcards`)
    }
    await inbox.flush()
    expect(inbox.messages).toEqual([])
  })
})
