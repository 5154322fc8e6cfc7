import type { MqttClient } from 'mqtt'
import { describe, expect, it } from 'vitest'
import type { ClusterNode } from './helpers/cluster.js'
import type { Inbox } from './helpers/mqtt.js'
import { useCluster } from './helpers/use-cluster.js'
import { waitUntil } from './helpers/wait.js'

// A rule switched through one node's admin API is in force on every node:
// the switch is saved in Redis with the routes' changes and told on their
// notices. routes.cacheTtl is long here, so that only the notice can bring
// it to the other nodes in time.

const TOKEN = 'cluster-rules-switch-admin-token-0123456789'
const f = useCluster({ adminToken: TOKEN })

// The witness reads the same topic after `watched`: once its republish
// came (and the inbox was flushed behind it), watched's had come too, had
// it run.
const YAML = `
routes:
  cacheTtl: 60s
rules:
  - name: watched
    sql: SELECT * FROM 'sensors/+'
    actions:
      - republish: { topic: 'out/watched' }
  - name: witness
    sql: SELECT * FROM 'sensors/+'
    actions:
      - republish: { topic: 'out/witness' }
`

interface RuleView { name: string; enabled: boolean; enabledSource: string; stats: { matched: number } }
const ruleOn = async (node: ClusterNode, name: string): Promise<RuleView> => ((await f.api(node, '/rules')).rules as RuleView[]).find((r) => r.name === name)!

/** Polls each node until rule `watched` is as `expected` there; resolves with how long each took, in ms. */
function inForce(nodes: ClusterNode[], expected: { enabled: boolean; enabledSource: string }, since: number): Promise<number[]> {
  return Promise.all(nodes.map(async (node) => {
    await waitUntil(() => ruleOn(node, 'watched'), {
      until: (r) => r.enabled === expected.enabled && r.enabledSource === expected.enabledSource,
      what: `watched ${JSON.stringify(expected)} on ${node.id}`, timeout: 5000, interval: 5,
    })
    return performance.now() - since
  }))
}

let round = 0
/** Publishes one message on `client`; resolves with the topics its rules republished it to, as `inbox` received them. */
async function topicsOf(client: MqttClient, inbox: Inbox): Promise<string[]> {
  const payload = JSON.stringify({ round: ++round })
  await client.publishAsync('sensors/1', payload, { qos: 1 })
  await inbox.waitFor((m) => m.some((x) => x.topic === 'out/witness' && x.payload === payload), 5000, `round ${round} on out/witness`)
  await inbox.flush()
  return inbox.messages.filter((m) => m.payload === payload).map((m) => m.topic).sort()
}

describe('rule switches across nodes', () => {
  it('a rule disabled through node A is in force on B and C at once (a message published on C no longer runs it), and enabled again through B', async () => {
    const { nodes: [a, b, c] } = await f.start({ yaml: YAML })
    // The first request a node answers is slow (its HTTP routes compile): not what is measured.
    for (const node of [a!, b!, c!]) await f.api(node, '/rules')
    const { client, inbox } = await f.connectWithInbox(c!, { clientId: 'switch-watcher' })
    await client.subscribeAsync('out/#', { qos: 1 })
    expect(await topicsOf(client, inbox)).toEqual(['out/watched', 'out/witness'])

    let since = performance.now()
    const off = await f.request(a!, '/rules/watched/disable', { method: 'POST' })
    expect(off.status).toBe(200)
    expect(await off.json()).toMatchObject({ name: 'watched', enabled: false, enabledSource: 'api' })
    let took = await inForce([b!, c!], { enabled: false, enabledSource: 'api' }, since)
    console.log(`watched disabled through node-a: in force on node-b after ${took[0]!.toFixed(0)} ms, on node-c after ${took[1]!.toFixed(0)} ms`)
    for (const ms of took) expect(ms).toBeLessThan(1000)
    const matched = (await ruleOn(c!, 'watched')).stats.matched
    expect(await topicsOf(client, inbox)).toEqual(['out/witness'])
    expect((await ruleOn(c!, 'watched')).stats.matched).toBe(matched)

    // A node started again reads the switch from Redis.
    await f.endClients()
    await c!.restart()
    expect(await ruleOn(c!, 'watched')).toMatchObject({ enabled: false, enabledSource: 'api' })
    const again = await f.connectWithInbox(c!, { clientId: 'switch-watcher-2' })
    await again.client.subscribeAsync('out/#', { qos: 1 })
    expect(await topicsOf(again.client, again.inbox)).toEqual(['out/witness'])

    since = performance.now()
    expect(await f.api(b!, '/rules/watched/enable', { method: 'POST' })).toMatchObject({ enabled: true, enabledSource: 'api' })
    took = await inForce([a!, c!], { enabled: true, enabledSource: 'api' }, since)
    for (const ms of took) expect(ms).toBeLessThan(1000)
    expect(await topicsOf(again.client, again.inbox)).toEqual(['out/watched', 'out/witness'])

    expect(await f.api(c!, '/rules/watched/reset', { method: 'POST' })).toMatchObject({ enabled: true, enabledSource: 'config' })
    await inForce([a!, b!], { enabled: true, enabledSource: 'config' }, performance.now())
  })
})
