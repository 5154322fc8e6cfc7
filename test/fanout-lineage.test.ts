import { fileURLToPath } from 'node:url'
import type { MqttClient } from 'mqtt'
import { afterEach, expect, it } from 'vitest'
import { startApp, type TestApp } from './helpers/app.js'
import { connect, end, Inbox } from './helpers/mqtt.js'

const fixture = (name: string) => fileURLToPath(new URL(`./fixtures/router/${name}.js`, import.meta.url))

let t: TestApp | undefined
let client: MqttClient | undefined
afterEach(async () => {
  if (client) await end(client, true)
  await t?.close()
  client = t = undefined
})

// The targets of a fanout route share the delivery's requestId: what each one
// publishes must still continue its own delivery's lineage, whichever ends first.
it('a fanout target that publishes after its sibling finished still counts hops toward maxHops', async () => {
  t = await startApp({
    extraYaml: `
rulesEngine:
  maxHops: 3
functions:
  quick: { module: ${fixture('greet')} }
  late: { module: ${fixture('late-publish')} }
routes:
  both:
    fanout: true
    targets: [{ function: quick }, { function: late }]
rules:
  - name: around
    sql: SELECT * FROM 'loop/in'
    actions:
      - invoke: { route: both }
`,
  })
  client = await connect(t.mqttUrl)
  const inbox = new Inbox(client)
  await client.subscribeAsync(['loop/in', '$events/rules/around/loop'], { qos: 1 })
  await client.publishAsync('loop/in', JSON.stringify({ user: 'x' }), { qos: 1 })
  // hops: the client's message 0, the delivery 1, late's publish 2, the
  // delivery 3, late's publish 4 > maxHops: dropped as a loop.
  await waitForLoopDrop(t.httpUrl, () => inbox.messages.filter((m) => m.topic === 'loop/in').length)
  expect(inbox.messages.filter((m) => m.topic === 'loop/in')).toHaveLength(2)
})

async function waitForLoopDrop(httpUrl: string, seen: () => number, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms
  for (;;) {
    const text = await (await fetch(`${httpUrl}/metrics`)).text()
    const drops = Number(/^switchyard_rules_loop_drops_total (\d+)/m.exec(text)?.[1] ?? 0)
    if (drops > 0) return
    if (Date.now() > deadline) throw new Error(`no publish was dropped by the loop guard within 10 s (${seen()} messages on loop/in): the lineage was lost`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}
