import { mkdirSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { isDeepStrictEqual } from 'node:util'
import type { Client } from 'aedes'
import { describe, expect, it } from 'vitest'
import { connected, EXAMPLE, people, readChatConfig, ROOT, send, texts, useChatBrowser, type ChatConfig, type Tab } from './helpers/chat-browser.js'
import { useApp } from './helpers/use-app.js'
import { waitUntil } from './helpers/wait.js'

const ARTIFACTS = join(ROOT, 'test-artifacts')
const ROOM = 'test-room'
const XSS = '<img src=x onerror=alert(1)>'

const f = useApp()

describe('the browser chat, on the example rules and functions', () => {
  const chat = useChatBrowser(f)

  /** Opens the chat in a fresh browser profile (its own localStorage) and joins under `name`. */
  function openChat(name: string, path = `/${ROOM}`, viewport = { width: 1024, height: 720 }): Promise<Tab> {
    return chat.open(name, path, { viewport })
  }

  it('shows two people each other\'s messages, sets their own apart, and shows markup as text', async () => {
    const alice = await openChat('Alice')
    const bob = await openChat('Bob')

    await send(alice.page, 'Hello Bob')
    await bob.page.locator('#messages .message', { hasText: 'Hello Bob' }).waitFor()
    await send(bob.page, 'Hi Alice, how are you?')
    await alice.page.locator('#messages .message', { hasText: 'Hi Alice, how are you?' }).waitFor()

    // Own messages are marked and signed "You"; the other person's carry their name.
    const aliceOwn = alice.page.locator('#messages .message.own', { hasText: 'Hello Bob' })
    await expect(aliceOwn.locator('.author').textContent()).resolves.toBe('You')
    const fromAlice = bob.page.locator('#messages .message:not(.own)', { hasText: 'Hello Bob' })
    await expect(fromAlice.locator('.author').textContent()).resolves.toBe('Alice')
    await expect(fromAlice.locator('time').textContent()).resolves.toMatch(/\d/)

    await send(bob.page, XSS)
    const shown = alice.page.getByText(XSS, { exact: true })
    await shown.waitFor()
    expect(await shown.isVisible()).toBe(true)
    expect(await alice.page.locator('#messages img').count()).toBe(0)
    await send(alice.page, 'Ha, that stayed text 😄')
    await bob.page.locator('#messages .message.own', { hasText: XSS }).waitFor()
    await bob.page.getByText('Ha, that stayed text 😄').waitFor()

    expect(await texts(alice.page)).toEqual(['Hello Bob', 'Hi Alice, how are you?', XSS, 'Ha, that stayed text 😄'])
    expect(await texts(bob.page)).toEqual(await texts(alice.page))
    for (const tab of [alice, bob]) {
      expect(tab.dialogs).toEqual([])
      expect(tab.errors).toEqual([])
    }

    mkdirSync(ARTIFACTS, { recursive: true })
    await alice.page.screenshot({ path: join(ARTIFACTS, 'chat.png') })
    const phone = await openChat('Carol', `/${ROOM}`, { width: 390, height: 760 })
    await phone.page.getByText('Ha, that stayed text 😄').waitFor()
    await phone.page.screenshot({ path: join(ARTIFACTS, 'chat-phone.png') })
  })

  it('gives a late joiner the room\'s backlog, remembers the name, and catches up after a dropped connection', async () => {
    const alice = await openChat('Alice')
    for (const text of ['first', 'second', 'third']) await send(alice.page, text)
    await alice.page.locator('#messages .message', { hasText: 'third' }).waitFor()
    // Another room's talk stays there.
    const dave = await openChat('Dave', '/?room=elsewhere')
    await send(dave.page, 'not for test-room')
    await dave.page.locator('#messages .message', { hasText: 'not for test-room' }).waitFor()

    // The room from the fragment: /#test-room.
    const carol = await openChat('Carol', `/#${ROOM}`)
    await carol.page.locator('#messages .message', { hasText: 'third' }).waitFor()
    expect(await texts(carol.page)).toEqual(['first', 'second', 'third'])
    expect(await carol.page.locator('#messages .message.own').count()).toBe(0)
    await expect(carol.page.locator('#room-name').textContent()).resolves.toBe(ROOM)

    // A reload: no name asked, the backlog once, and its own message still its own.
    await send(carol.page, 'back soon')
    await carol.page.locator('#messages .message.own', { hasText: 'back soon' }).waitFor()
    const connections: Client[] = []
    chat.app.app.broker.aedes.on('clientReady', (client) => connections.push(client))
    await carol.page.reload()
    await connected(carol.page)
    expect(await carol.page.locator('#welcome').isVisible()).toBe(false)
    await carol.page.locator('#messages .message.own', { hasText: 'back soon' }).waitFor()
    expect(await texts(carol.page)).toEqual(['first', 'second', 'third', 'back soon'])
    await expect(carol.page.locator('#name-input').inputValue()).resolves.toBe('Carol')
    await waitUntil(() => people(alice.page), { until: (names) => names.includes('Carol'), what: "Carol in Alice's list of people" })

    // The connection drops: the page says so, reconnects by itself, and the
    // rejoin brings what was said meanwhile, once.
    expect(connections).toHaveLength(1)
    connections[0]!.close()
    await carol.page.locator('#status:not([data-state="online"])').waitFor()
    expect(await carol.page.locator('#offline-note').isVisible()).toBe(true)
    await send(alice.page, 'while you were away')
    await alice.page.locator('#messages .message', { hasText: 'while you were away' }).waitFor()
    await connected(carol.page)
    await carol.page.locator('#messages .message', { hasText: 'while you were away' }).waitFor()
    expect(await texts(carol.page)).toEqual(['first', 'second', 'third', 'back soon', 'while you were away'])
    expect(carol.dialogs).toEqual([])
    expect(carol.errors).toEqual([])
  })

  it('lists who is in the room and drops a tab that closes', async () => {
    const alice = await openChat('Alice')
    const bob = await openChat('Bob')
    const dave = await openChat('Dave', '/?room=elsewhere')

    await waitUntil(() => people(alice.page), { until: (names) => isDeepStrictEqual(names, ['Alice', 'Bob']), what: "Alice's list to be Alice, Bob" })
    await waitUntil(() => people(bob.page), { until: (names) => isDeepStrictEqual(names, ['Bob', 'Alice']), what: "Bob's list to be Bob, Alice" })
    await expect(alice.page.locator('#people-count').textContent()).resolves.toBe('2')
    expect(await people(dave.page)).toEqual(['Dave'])

    // A tab closed without a goodbye: the broker's disconnected event is what tells.
    await bob.page.close()
    await waitUntil(() => people(alice.page), { until: (names) => isDeepStrictEqual(names, ['Alice']), timeout: 10_000, what: "Bob gone from Alice's list" })
    await expect(alice.page.locator('#people-count').textContent()).resolves.toBe('1')

    // A new name reaches the others.
    const carol = await openChat('Carol')
    await waitUntil(() => people(carol.page), { until: (names) => isDeepStrictEqual(names, ['Carol', 'Alice']), what: "Carol's list to be Carol, Alice" })
    await alice.page.locator('#name-input').fill('Alice B.')
    await alice.page.getByRole('button', { name: 'Save' }).click()
    await waitUntil(() => people(carol.page), { until: (names) => isDeepStrictEqual(names, ['Carol', 'Alice B.']), what: "Alice's new name in Carol's list" })
    expect(alice.errors).toEqual([])
  })
})

describe('the chat example config', () => {
  it('is the config npm start runs', () => {
    const example = readChatConfig(EXAMPLE)
    const root = readChatConfig(join(ROOT, 'switchyard.yaml'))
    expect(root.rules).toEqual(example.rules)
    expect([root.auth, root.acl]).toEqual([example.auth, example.acl])
    const modules = (config: ChatConfig, file: string) =>
      Object.fromEntries(Object.entries(config.functions).map(([name, fn]) => [name, { ...fn, module: resolve(dirname(file), fn.module) }]))
    expect(modules(root, join(ROOT, 'switchyard.yaml'))).toEqual(modules(example, EXAMPLE))
  })
})
