import Database from 'better-sqlite3'
import { join } from 'node:path'
import { expect, it } from 'vitest'
import { end } from './helpers/mqtt.js'
import { useApp } from './helpers/use-app.js'

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
