import { readFileSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { parse, stringify } from 'yaml'
import { Inbox } from '../helpers/mqtt.js'
import { useApp } from '../helpers/use-app.js'
import { waitUntil } from '../helpers/wait.js'

// A value filled into a topic template may hold `/`: as it is, it adds
// levels of its sender's choosing. topicLevel() keeps it to one level.

const TOKEN = 'test-admin-token-0123456789'
const f = useApp({ adminToken: TOKEN })

const EXAMPLE = fileURLToPath(new URL('../../examples/chat/switchyard.yaml', import.meta.url))

/** The chat example as it ships: its functions (module paths made absolute), rules, auth and ACL. */
function chatYaml(secretDir: string): string {
  const { functions, rules, auth, acl } = parse(readFileSync(EXAMPLE, 'utf8')) as Record<string, any>
  const modules = Object.fromEntries(Object.entries(functions as Record<string, { module: string }>).map(([n, fn]) => [n, { ...fn, module: resolve(dirname(EXAMPLE), fn.module) }]))
  return stringify({ functions: modules, rules, auth: { ...auth, jwt: { ...auth.jwt, secretFile: join(secretDir, 'jwt-secret') } }, acl })
}

/** A browser's tab in the chat: a guest identity of its own, connected as the page does. */
async function chatTab(tabs = 1) {
  const res = await fetch(`${f.app.httpUrl}/auth/guest`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' })
  const { username, token } = await res.json() as { username: string; token: string }
  const open = (tab: number) => f.connect({ clientId: `chat-${username}-${tab}`, username, password: token })
  return Promise.all(Array.from({ length: tabs }, (_, i) => open(i + 1)))
}

interface Welcome {
  type: 'welcome'
  room: string
  messages: Array<{ message: string }>
}

/** Joins `room` as the chat page does and answers the backlog the room sends back. */
async function joinRoom(client: Awaited<ReturnType<typeof f.connect>>, room: string): Promise<Welcome> {
  const inbox = new Inbox(client)
  const clientId = client.options.clientId!
  await client.subscribeAsync(`chat/in/${clientId}`, { qos: 1 })
  await client.publishAsync('chat/join', JSON.stringify({ room, name: 'Bob' }), { qos: 1 })
  return JSON.parse((await inbox.on(`chat/in/${clientId}`)).payload) as Welcome
}

describe('the chat example', () => {
  it('keeps a message to a room named lobby/../x out of the lobby\'s backlog', async () => {
    await f.start(chatYaml(f.tempDir()))
    const watcher = await f.connect()
    const inbox = new Inbox(watcher)
    await watcher.subscribeAsync('chat/pub/#', { qos: 1 })

    const [alice] = await chatTab()
    await alice!.publishAsync('chat/out', JSON.stringify({ room: 'lobby', message: 'hello', name: 'Alice' }), { qos: 1 })
    // Any browser can send any room in its JSON.
    const [mallory] = await chatTab()
    await mallory!.publishAsync('chat/out', JSON.stringify({ room: 'lobby/../x', message: 'planted', name: 'Alice' }), { qos: 1 })

    const published = await inbox.count(2)
    // Both stored, before anyone reads a backlog.
    await waitUntil(() => f.api('/store/chat'), { until: (s: { events: unknown[] }) => s.events.length === 2, what: 'both messages stored' })

    const [bobInLobby, bobElsewhere] = await chatTab(2)
    expect((await joinRoom(bobInLobby!, 'lobby')).messages.map((m) => m.message)).toEqual(['hello'])
    // The odd room is a room of its own, on one level, with its own backlog.
    expect(published.map((m) => m.topic).sort()).toEqual(['chat/pub/lobby', 'chat/pub/lobby%2F..%2Fx'])
    expect((await joinRoom(bobElsewhere!, 'lobby/../x')).messages.map((m) => m.message)).toEqual(['planted'])
  })
})

describe('topicLevel() in a republish topic', () => {
  it('makes any value exactly one level that is not a wildcard, not a $ topic and not . or ..', async () => {
    await f.start(`
rules:
  - name: level
    sql: SELECT * FROM 'level/in'
    actions:
      - republish: { topic: '\${topicLevel(v)}/end' }
`)
    const c = await f.connect()
    const inbox = new Inbox(c)
    await c.subscribeAsync('+/end', { qos: 1 })
    const values = ['a/b', '+', '#', '$events', '.', '..', '', '50%']
    for (const v of values) await c.publishAsync('level/in', JSON.stringify({ v }), { qos: 1 })
    const got = await inbox.count(values.length)
    expect(got.map((m) => m.topic)).toEqual(['a%2Fb/end', '%2B/end', '%23/end', '%24events/end', '%2E/end', '%2E%2E/end', '%/end', '50%25/end'])
  })
})
