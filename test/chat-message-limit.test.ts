import { describe, expect, it } from 'vitest'
import { send, texts, useChatBrowser } from './helpers/chat-browser.js'
import { Inbox } from './helpers/mqtt.js'
import { useApp } from './helpers/use-app.js'

const f = useApp()

describe('the 2,000 characters of a chat message', () => {
  const chat = useChatBrowser(f)

  /** A guest identity from the broker, as the page gets one. */
  async function guest(): Promise<{ username: string; token: string }> {
    const res = await fetch(`${chat.app.httpUrl}/auth/guest`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' })
    return await res.json() as { username: string; token: string }
  }

  it('counts down in the composer from 1,800, and will not send past 2,000', async () => {
    const ann = await chat.open('Ann', '/limits', { context: { locale: 'en-US' } })
    const box = ann.page.getByLabel('Message', { exact: true })
    const note = ann.page.locator('#message-limit')
    const button = ann.page.getByRole('button', { name: 'Send' })

    await box.fill('a'.repeat(1799))
    expect(await note.isVisible()).toBe(false)
    await box.fill('a'.repeat(1800))
    await expect(note.textContent()).resolves.toBe('200 characters left')
    expect(await button.isEnabled()).toBe(true)

    const tooLong = 'b'.repeat(2001)
    await box.fill(tooLong)
    await expect(note.textContent()).resolves.toBe('1 character too many: a message holds up to 2,000.')
    expect(await button.isDisabled()).toBe(true)
    // Enter does not send it either: the text stays, to be cut by its writer.
    await box.press('Enter')
    expect(await box.inputValue()).toBe(tooLong)

    // 2,000 characters as the rule counts them (an emoji is one, though two UTF-16 units) go, in full.
    const longest = `${'c'.repeat(1999)}😀`
    await send(ann.page, longest)
    await ann.page.locator('#messages .message.own').waitFor()
    expect(await texts(ann.page)).toEqual([longest])
    expect(await note.isVisible()).toBe(false)
    expect(ann.errors).toEqual([])
  })

  it('drops a 600 KB message an MQTT client sends to chat/out: neither shown nor kept', async () => {
    const ann = await chat.open('Ann', '/limits')
    // Another client, as the page connects: over WebSocket, as a guest, with a chat client id of its user.
    const bob = await guest()
    const tab = await f.connect(chat.app.wsUrl, { clientId: `chat-${bob.username}-0001`, username: bob.username, password: bob.token })
    const room = new Inbox(tab)
    await tab.subscribeAsync('chat/pub/limits', { qos: 1 })

    const huge = 'x'.repeat(600 * 1024)
    await tab.publishAsync('chat/out', JSON.stringify({ room: 'limits', message: huge, name: 'Bob' }), { qos: 1 })
    await tab.publishAsync('chat/out', JSON.stringify({ room: 'limits', message: 'a short one', name: 'Bob' }), { qos: 1 })
    await room.waitFor((m) => m.some((x) => JSON.parse(x.payload).message === 'a short one'), 5000, 'the short message in the room')
    await room.flush()
    expect(room.messages.map((m) => JSON.parse(m.payload).message)).toEqual(['a short one'])

    // Not on the page, live or after a reload (the backlog the store keeps).
    await ann.page.locator('#messages .message', { hasText: 'a short one' }).waitFor()
    expect(await texts(ann.page)).toEqual(['a short one'])
    await ann.page.reload()
    await ann.page.locator('#messages .message', { hasText: 'a short one' }).waitFor()
    expect(await texts(ann.page)).toEqual(['a short one'])
  })
})
