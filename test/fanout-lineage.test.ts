import { expect, it } from 'vitest'
import { fixturePath } from './helpers/fixtures.js'
import { useApp } from './helpers/use-app.js'
import { waitUntil } from './helpers/wait.js'

const f = useApp()

// The targets of a fanout route share the delivery's requestId: what each one
// publishes must still continue its own delivery's lineage, whichever ends first.
it('a fanout target that publishes after its sibling finished still counts hops toward maxHops', async () => {
  await f.start(`
rulesEngine:
  maxHops: 3
functions:
  quick: { module: ${fixturePath('router/greet.js')} }
  late: { module: ${fixturePath('router/late-publish.js')} }
routes:
  both:
    fanout: true
    targets: [{ function: quick }, { function: late }]
rules:
  - name: around
    sql: SELECT * FROM 'loop/in'
    actions:
      - invoke: { route: both }
`)
  const { client, inbox } = await f.connectWithInbox()
  await client.subscribeAsync('loop/in', { qos: 1 })
  await client.publishAsync('loop/in', JSON.stringify({ user: 'x' }), { qos: 1 })
  const onLoopIn = () => inbox.messages.filter((m) => m.topic === 'loop/in').length
  // hops: the client's message 0, the delivery 1, late's publish 2, the
  // delivery 3, late's publish 4 > maxHops: dropped as a loop. With the
  // lineage lost, late publishes at hop 2 again and again.
  await waitUntil(() => f.metric('switchyard_rules_loop_drops_total'), {
    what: 'a publish dropped by the loop guard',
    until: (drops) => (drops ?? 0) > 0,
    timeout: 10_000,
  }).catch((err: Error) => {
    throw new Error(`${err.message}; ${onLoopIn()} messages on loop/in: the lineage was lost`)
  })
  expect(onLoopIn()).toBe(2)
})
