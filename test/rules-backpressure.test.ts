import { createServer, type ServerResponse } from 'node:http'
import { expect, it } from 'vitest'
import { Inbox } from './helpers/mqtt.js'
import { useApp } from './helpers/use-app.js'
import { waitUntil } from './helpers/wait.js'

const f = useApp()

it('holds only the publisher whose rule work is backed up, and loses nothing', async () => {
  const held: ServerResponse[] = []
  let received = 0
  const server = createServer((req, res) => {
    req.resume()
    received++
    held.push(res)
  })
  const url = `http://127.0.0.1:${await f.listen(server)}/slow`
  await f.start(`
rulesEngine:
  queueSize: 2
  concurrency: 1
rules:
  - name: slow
    sql: SELECT * FROM 'work/#'
    actions:
      - http: { url: '${url}', timeout: 30s }
`)
  const watcher = await f.connect()
  const watched = new Inbox(watcher)
  await watcher.subscribeAsync(['producer/alive', 'chat/room'], { qos: 1 })

  const producer = await f.connect({ clientId: 'producer' })
  for (let i = 0; i < 6; i++) producer.publish(`work/${i}`, `{"i":${i}}`, { qos: 0 })
  // One action runs and two messages wait in the queue: the publisher's
  // next packets are not read until there is room.
  await waitUntil(() => received, { until: (n) => n === 1, what: 'the first request at the endpoint' })
  await new Promise<void>((resolve, reject) => producer.publish('producer/alive', 'later', { qos: 0 }, (err) => (err ? reject(err) : resolve())))

  // Everyone else is served meanwhile: a client that connects after
  // producer/alive was written gets its message to the watcher, with no
  // producer/alive before it (the broker would have read that first).
  const other = await f.connect()
  await other.publishAsync('chat/room', 'still here', { qos: 1 })
  expect((await watched.on('chat/room')).payload).toBe('still here')
  expect(watched.messages.map((m) => m.topic)).not.toContain('producer/alive')

  // Release the endpoint: every message gets through, and the publisher is read again.
  const release = setInterval(() => {
    for (const res of held.splice(0)) res.end('ok')
  }, 10)
  try {
    await waitUntil(() => received, { until: (n) => n === 6, timeout: 5000, what: 'all 6 requests at the endpoint' })
    expect((await watched.on('producer/alive')).payload).toBe('later')
  } finally {
    clearInterval(release)
  }
})
