import { spawnSync } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { Inbox } from './helpers/mqtt.js'
import { useApp } from './helpers/use-app.js'
import { waitUntil } from './helpers/wait.js'

const BIN = fileURLToPath(new URL('../bin/switchyard.js', import.meta.url))
const TOKEN = 'dry-run-admin-token-000000'

const RULES = `
rules:
  - name: chatPub
    sql: >-
      SELECT *, clientId() AS clientId FROM 'chat/out'
      WHERE NOT isUndefined(message) AND NOT isUndefined(room)
    actions:
      - republish: { topic: 'chat/pub/\${room}', qos: 1 }
      - store: { table: chat, key: '\${room}', ttl: 1h }
      - http: { url: 'http://127.0.0.1:9/hook/\${room}' }
  - name: other
    sql: SELECT * FROM 'elsewhere'
`

const f = useApp({ adminToken: TOKEN })

describe('the dry run', () => {
  it('switchyard rules test shows SELECT output, WHERE and filled-in actions', () => {
    const file = join(f.tempDir(), 'rules.yaml')
    writeFileSync(file, `storage:\n  sqlite: ":memory:"\n${RULES}`)
    const run = (payload: string) => spawnSync(process.execPath, [BIN, 'rules', 'test', '--config', file, '--topic', 'chat/out', '--payload', payload, '--client-id', 'c1'], { encoding: 'utf8' })
    const ok = run('{"room":"lobby","message":"hi"}')
    expect(ok.status, ok.stderr).toBe(0)
    const out = JSON.parse(ok.stdout)
    expect(out.results).toHaveLength(1)
    expect(out.results[0]).toMatchObject({
      rule: 'chatPub',
      from: 'chat/out',
      select: { room: 'lobby', message: 'hi', clientId: 'c1' },
      where: true,
      actions: [
        { kind: 'republish', topic: 'chat/pub/lobby', qos: 1, retain: false, payload: '{"room":"lobby","message":"hi","clientId":"c1"}' },
        { kind: 'store', table: 'chat', key: 'lobby' },
        { kind: 'http', method: 'POST', url: 'http://127.0.0.1:9/hook/lobby' },
      ],
    })
    const filtered = JSON.parse(run('{"room":"lobby"}').stdout)
    expect(filtered.results[0]).toMatchObject({ rule: 'chatPub', where: false, actions: [] })
  })

  it('POST /api/rules/test answers the same and executes nothing', async () => {
    await f.start(RULES)
    const c = await f.connect()
    const inbox = new Inbox(c)
    await c.subscribeAsync('chat/pub/#')
    const res = await f.request('/rules/test', { method: 'POST', body: { topic: 'chat/out', payload: { room: 'r1', message: 'yo' }, clientId: 'web-1' } })
    expect(res.status).toBe(200)
    const body = await res.json() as any
    expect(body.results[0].actions[0]).toMatchObject({ kind: 'republish', topic: 'chat/pub/r1' })
    // The same message published for real: its republish and its stored
    // event come after anything the dry run would have done.
    await c.publishAsync('chat/out', JSON.stringify({ room: 'r2', message: 'yo' }), { qos: 1 })
    await inbox.on('chat/pub/r2')
    const stored = await waitUntil(() => f.api('/store/chat'), { until: (s) => s.events.length > 0, what: 'the published message to be stored' })
    expect(inbox.messages.map((m) => m.topic)).toEqual(['chat/pub/r2'])
    expect(stored.events.map((e: { key: string }) => e.key)).toEqual(['r2'])
  })

  it('a parse error names the rule, the column and what was expected, at load time', () => {
    const file = join(f.tempDir(), 'bad.yaml')
    writeFileSync(file, `rules:\n  - name: broken\n    sql: SELECT * FORM 'x'\n`)
    const res = spawnSync(process.execPath, [BIN, 'validate', '--config', file], { encoding: 'utf8' })
    expect(res.status).toBe(1)
    // 3:19 is the F of FORM: the place of the mistake inside the SQL.
    expect(res.stderr).toMatch(new RegExp(`${file.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}:3:19: rules\\[0\\]\\.sql of rule broken does not parse: .*column \\d+`))
    expect(res.stderr).toMatch(/expected/i)
  })
})
