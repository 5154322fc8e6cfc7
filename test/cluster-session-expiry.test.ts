import { expect, it } from 'vitest'
import { useCluster } from './helpers/use-cluster.js'

// limits.sessionExpiry in a cluster: every node sweeps the sessions they
// share in Redis, one expires each, none expires a session whose client is
// connected to any node, and the sessions a dead node's clients held count
// from when it is found dead.

const f = useCluster()

it('expires each session once, from one node; not one whose client is on another node; and those of a dead node\'s clients', async () => {
  const { nodes: [a, b] } = await f.start({ nodes: 2, yaml: 'limits:\n  sessionExpiry: 2s\n' })
  const watcher = await f.connectWithInbox(b!, { clientId: 'watcher' })
  await watcher.client.subscribeAsync('$events/sessions/expired/+', { qos: 1 })
  const steady = await f.connectWithInbox(b!, { clientId: 'steady', clean: false })
  await steady.client.subscribeAsync('steady/#', { qos: 1 })

  const left = await f.connect(a!, { clientId: 'left', clean: false })
  await left.subscribeAsync('left/#', { qos: 1 })
  await left.endAsync()
  const stranded = await f.connect(a!, { clientId: 'stranded', clean: false })
  await stranded.subscribeAsync('stranded/#', { qos: 1 })
  await watcher.inbox.on('$events/sessions/expired/left', 15_000)

  await a!.kill('SIGKILL')
  const event = JSON.parse((await watcher.inbox.on('$events/sessions/expired/stranded', 20_000)).payload) as Record<string, unknown>
  expect(event).toMatchObject({ clientId: 'stranded', eventType: 'expired', node: 'node-b', expiry: 2000 })
  await watcher.inbox.flush()
  expect(watcher.inbox.messages.map((m) => m.topic).sort()).toEqual(['$events/sessions/expired/left', '$events/sessions/expired/stranded'])

  const publisher = await f.connect(b!, { clientId: 'publisher' })
  await publisher.publishAsync('steady/1', 'still subscribed', { qos: 1 })
  expect((await steady.inbox.on('steady/1')).payload).toBe('still subscribed')
  const back = await f.connectWithInbox(b!, { clientId: 'stranded', clean: false })
  expect(back.connack.sessionPresent).toBe(false)
})
