import { describe, expect, it } from 'vitest'
import { fixturePath } from './helpers/fixtures.js'
import { useApp } from './helpers/use-app.js'
import { waitUntil } from './helpers/wait.js'

// A QoS 0 message the router publishes (a republish, a function's publish)
// that no subscriber and no rule would receive is counted and goes no
// further. Whatever someone would receive still goes through the broker.

const f = useApp({ adminToken: 'unheard-publishes-admin-token-0123456789' })
const UNHEARD = 'switchyard_publishes_no_subscribers_total'

const unheard = async () => (await f.metric(UNHEARD)) ?? 0

describe('router publishes that no one would receive', () => {
  it('are counted and dropped; once a client subscribes, the same republish reaches it', async () => {
    await f.start(`
rules:
  - name: forward
    sql: SELECT * FROM 'in/+'
    actions:
      - republish: { topic: 'out/\${topic(2)}' }
`)
    const publisher = await f.connect({ clientId: 'publisher' })
    await publisher.publishAsync('in/a', 'one', { qos: 1 })
    await waitUntil(unheard, { until: (n) => n === 1, what: 'the first republish counted as unheard', timeout: 5000 })

    const { client, inbox } = await f.connectWithInbox({ clientId: 'reader' })
    await client.subscribeAsync('out/#', { qos: 0 })
    await publisher.publishAsync('in/b', 'two', { qos: 1 })
    await inbox.waitFor((m) => m.some((x) => x.topic === 'out/b' && x.payload === 'two'), 5000, 'the republish on out/b')
    expect(inbox.messages.map((m) => m.topic)).toEqual(['out/b'])
    expect(await unheard()).toBe(1)

    await client.unsubscribeAsync('out/#')
    await publisher.publishAsync('in/c', 'three', { qos: 1 })
    await waitUntil(unheard, { until: (n) => n === 2, what: 'the republish after the unsubscribe counted as unheard', timeout: 5000 })
  })

  it('reach a shared subscription\'s group', async () => {
    await f.start(`
rules:
  - name: forward
    sql: SELECT * FROM 'jobs/in'
    actions:
      - republish: { topic: 'jobs/out' }
`)
    const { client, inbox } = await f.connectWithInbox({ clientId: 'worker-1' })
    await client.subscribeAsync('$share/workers/jobs/out', { qos: 0 })
    await client.publishAsync('jobs/in', 'job', { qos: 1 })
    await inbox.waitFor((m) => m.some((x) => x.topic === 'jobs/out' && x.payload === 'job'), 5000, 'the republish, through the group')
    expect(await unheard()).toBe(0)
  })

  it('still run the rules on their topic: a chain through a topic no client reads arrives at its end', async () => {
    await f.start(`
rules:
  - name: first
    sql: SELECT * FROM 'chain/in'
    actions:
      - republish: { topic: 'chain/middle' }
  - name: second
    sql: SELECT * FROM 'chain/middle'
    actions:
      - republish: { topic: 'chain/end' }
`)
    const { client, inbox } = await f.connectWithInbox({ clientId: 'end-reader' })
    await client.subscribeAsync('chain/end', { qos: 0 })
    await client.publishAsync('chain/in', 'link', { qos: 1 })
    await inbox.waitFor((m) => m.some((x) => x.topic === 'chain/end' && x.payload === 'link'), 5000, 'the chain\'s end')
    expect(await unheard()).toBe(0)
  })

  it('are kept when retained: a later subscriber receives the retained republish', async () => {
    await f.start(`
rules:
  - name: keep
    sql: SELECT * FROM 'state/in'
    actions:
      - republish: { topic: 'state/last', retain: true }
`)
    const publisher = await f.connect({ clientId: 'setter' })
    await publisher.publishAsync('state/in', 'latest', { qos: 1 })
    const { client, inbox } = await f.connectWithInbox({ clientId: 'late-reader' })
    await waitUntil(async () => {
      await client.subscribeAsync('state/last', { qos: 0 })
      await inbox.flush()
      return inbox.messages.find((m) => m.topic === 'state/last')
    }, { until: (m) => m !== undefined, what: 'the retained republish', timeout: 5000 })
    const [retained] = inbox.messages.filter((m) => m.topic === 'state/last')
    expect(retained).toMatchObject({ payload: 'latest', packet: { retain: true } })
    expect(await unheard()).toBe(0)
  })

  it('include a function\'s own events: one that no one reads is counted, one that someone does arrives whole', async () => {
    await f.start(`
functions:
  greet: { module: ${fixturePath('router/greet.js')}, timeout: 3s }
rules:
  - name: onJoin
    sql: SELECT user FROM 'joins/+'
    actions:
      - invoke: { function: greet }
`)
    const { client, inbox } = await f.connectWithInbox({ clientId: 'watcher' })
    await client.subscribeAsync(['inbox/#', '$events/functions/greet/invoked'], { qos: 0 })
    await client.publishAsync('joins/lobby', JSON.stringify({ user: 'ann' }), { qos: 1 })
    await inbox.waitFor((m) => m.some((x) => x.topic === '$events/functions/greet/invoked'), 10_000, 'the invoked event')
    const invoked = JSON.parse(inbox.messages.find((m) => m.topic === '$events/functions/greet/invoked')!.payload)
    expect(invoked).toMatchObject({ functionName: 'greet', rule: 'onJoin', clientId: 'watcher', topic: 'joins/lobby', attempt: 1, eventType: 'invoked' })
    expect(typeof invoked.durationMs).toBe('number')
    expect(typeof invoked.requestId).toBe('string')
    expect(inbox.messages.map((m) => m.topic).sort()).toEqual(['$events/functions/greet/invoked', 'inbox/ann'])
    // The invoking event, which no one reads.
    expect(await unheard()).toBe(1)
  })

  it('are queued at QoS 1 for an offline persistent session', async () => {
    await f.start(`
rules:
  - name: notify
    sql: SELECT * FROM 'orders/in'
    actions:
      - republish: { topic: 'orders/queued', qos: 1 }
`)
    const first = await f.connect({ clientId: 'away', clean: false })
    await first.subscribeAsync('orders/queued', { qos: 1 })
    await first.endAsync()
    const publisher = await f.connect({ clientId: 'orders' })
    await publisher.publishAsync('orders/in', 'while away', { qos: 1 })
    // The republish runs after the PUBACK: give it time to be queued.
    await waitUntil(() => f.api('/rules'), {
      until: (body) => (body.rules as Array<{ name: string; stats: { actions: Array<{ success: number }> } }>)
        .find((r) => r.name === 'notify')?.stats.actions[0]?.success === 1,
      what: 'the republish done',
      timeout: 5000,
    })
    const { inbox } = await f.connectWithInbox({ clientId: 'away', clean: false })
    await inbox.waitFor((m) => m.some((x) => x.topic === 'orders/queued' && x.payload === 'while away'), 5000, 'the queued republish')
    expect(await unheard()).toBe(0)
  })
})
