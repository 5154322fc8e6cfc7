import Database from 'better-sqlite3'
import { once } from 'node:events'
import { connect } from 'node:net'
import { join } from 'node:path'
import { expect, it } from 'vitest'
import { end } from './helpers/mqtt.js'
import { useApp } from './helpers/use-app.js'
import { within } from './helpers/wait.js'

const f = useApp()

it('finishes the rule work already queued when it shuts down', async () => {
  const t = await f.start(`
limits:
  publishRate: 0
rules:
  - name: keep
    sql: SELECT * FROM 'readings/+'
    actions:
      - store: { table: readings, key: '\${topic(2)}' }
      - republish: { topic: 'copies/\${topic(2)}' }
`)
  const c = await f.connect()
  const sent = 500
  // Every PUBACK means the broker took the message; its rule work may still be queued.
  await Promise.all(Array.from({ length: sent }, (_, i) => c.publishAsync(`readings/${i % 7}`, JSON.stringify({ i }), { qos: 1 })))
  const stats = () => t.app.engine.rules.rules[0]!.stats.actions.map((a) => a.failure)
  await t.close()
  await end(c, true)
  expect(stats()).toEqual([0, 0])
  const db = new Database(join(t.dir, 'switchyard.db'), { readonly: true })
  const stored = db.prepare("SELECT count(*) FROM store_events WHERE tbl = 'readings'").pluck().get()
  db.close()
  expect(stored).toBe(sent)
})

it('closes an HTTP request still in flight, and a console stream, when it shuts down', async () => {
  const token = 'shutdown-admin-token-0123456789'
  const t = await f.start(`admin:\n  token: ${token}\n`)
  const { port } = t.addresses.http
  // A request whose body never comes: without closing it, the shutdown would wait for the server's request timeout (5 minutes).
  const slow = connect(port, '127.0.0.1')
  f.defer(() => slow.destroy())
  await once(slow, 'connect')
  slow.write(`POST /api/rules/test HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nAuthorization: Bearer ${token}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{`)
  const slowClosed = once(slow, 'close')
  // The console's map stream, read as the console reads it.
  const stream = await fetch(`${t.httpUrl}/api/console/map/stream`, { headers: { authorization: `Bearer ${token}` } })
  const reader = stream.body!.getReader()
  await reader.read()
  await within(t.close(), 10_000, 'the shutdown')
  await slowClosed
  // The stream was ended, not cut: the console's own preClose ran before the connections were closed.
  for (let r = await reader.read(); !r.done; r = await reader.read());
})
