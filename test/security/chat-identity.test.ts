import { readFileSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { parse, stringify } from 'yaml'
import { Inbox } from '../helpers/mqtt.js'
import { useApp } from '../helpers/use-app.js'

// The chat example as it ships: whose a message is comes from the user the
// broker authenticated, stamped by the rule, never from what a client sent.

const EXAMPLE = fileURLToPath(new URL('../../examples/chat/switchyard.yaml', import.meta.url))

function chatYaml(secretDir: string): string {
  const { functions, rules, auth, acl } = parse(readFileSync(EXAMPLE, 'utf8')) as Record<string, any>
  const modules = Object.fromEntries(Object.entries(functions as Record<string, { module: string }>).map(([n, fn]) => [n, { ...fn, module: resolve(dirname(EXAMPLE), fn.module) }]))
  return stringify({ functions: modules, rules, auth: { ...auth, jwt: { ...auth.jwt, secretFile: join(secretDir, 'jwt-secret') } }, acl })
}

const f = useApp()

async function guest(previous?: string): Promise<{ username: string; token: string; expiresAt: number }> {
  const res = await fetch(`${f.app.httpUrl}/auth/guest`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(previous ? { token: previous } : {}) })
  expect(res.status).toBe(200)
  return await res.json() as { username: string; token: string; expiresAt: number }
}

const message = (m: { payload: string }) => JSON.parse(m.payload) as Record<string, unknown>

describe('the chat example: identity from the authenticated user', () => {
  it('gives each browser a guest identity of its own, renewed for the same name', async () => {
    await f.start(chatYaml(f.tempDir()))
    const a = await guest()
    const b = await guest()
    expect(a.username).toMatch(/^guest-[0-9a-f]{16}$/)
    expect(b.username).not.toBe(a.username)
    expect((await guest(a.token)).username).toBe(a.username)
    expect((await guest('not.a.token')).username).not.toBe(a.username)
  })

  it('stamps each message with its sender\'s user, and lets no one else speak as that user', async () => {
    await f.start(chatYaml(f.tempDir()))
    const alice = await guest()
    const bob = await guest()
    const aliceTab = await f.connect({ clientId: `chat-${alice.username}-0001`, username: alice.username, password: alice.token })
    const room = new Inbox(aliceTab)
    await aliceTab.subscribeAsync('chat/pub/lobby', { qos: 1 })

    // Neither another user nor an anonymous client may use a client id of Alice's.
    expect(await f.attempt({ clientId: `chat-${alice.username}-0002`, username: bob.username, password: bob.token })).toMatch(/Not authorized/)
    expect(await f.attempt({ clientId: `chat-${alice.username}-0002` })).toMatch(/Not authorized/)

    // Bob claims to be Alice in the payload: the rule stamps who he is.
    const bobTab = await f.connect({ clientId: `chat-${bob.username}-0001`, username: bob.username, password: bob.token })
    await bobTab.publishAsync('chat/out', JSON.stringify({ room: 'lobby', message: 'I am Alice', name: 'Alice', user: alice.username, clientId: `chat-${alice.username}-0001` }), { qos: 1 })
    const forged = message(await room.on('chat/pub/lobby'))
    expect(forged).toMatchObject({ message: 'I am Alice', user: bob.username, clientId: `chat-${bob.username}-0001` })

    // An anonymous client whose client id is Alice's user name: principal() would be that name; its message is dropped.
    const impostor = await f.connect({ clientId: alice.username })
    await impostor.publishAsync('chat/out', JSON.stringify({ room: 'lobby', message: 'also Alice', name: 'Alice' }), { qos: 1 })
    // And no client publishes to a room's topic itself (acknowledged, delivered to no one).
    await impostor.publishAsync('chat/pub/lobby', JSON.stringify({ message: 'straight in', user: alice.username, name: 'Alice' }), { qos: 1 })

    await aliceTab.publishAsync('chat/out', JSON.stringify({ room: 'lobby', message: 'the real Alice', name: 'Alice' }), { qos: 1 })
    const real = await room.waitFor((ms) => ms.some((m) => message(m).message === 'the real Alice'))
    expect(real.map((m) => [message(m).message, message(m).user])).toEqual([['I am Alice', bob.username], ['the real Alice', alice.username]])
  })

  it('limits new guest identities per address', async () => {
    await f.start(chatYaml(f.tempDir()))
    const statuses: number[] = []
    for (let i = 0; i < 12; i++) {
      statuses.push((await fetch(`${f.app.httpUrl}/auth/guest`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' })).status)
    }
    expect(statuses).toEqual([...Array(10).fill(200), 429, 429])
  })
})
