import { describe, expect, it } from 'vitest'
import { send, useChatBrowser } from './helpers/chat-browser.js'
import { useApp } from './helpers/use-app.js'

const f = useApp()

describe('room names in the address, in Chromium', () => {
  const chat = useChatBrowser(f)

  it('makes a room of a path as people type it, and shows the room it made, in the page and the address', async () => {
    const cases = [
      { path: '/Team%20Blue', room: 'team-blue' },
      { path: '/caf%C3%A9?x=1#top', room: 'cafe', href: '/cafe?x=1#top' },
      { path: `/${'A'.repeat(63)}%20B`, room: 'a'.repeat(63) },
    ]
    for (const { path, room, href } of cases) {
      const tab = await chat.visit(path)
      // Asked for a name already in the room's own name.
      await expect(tab.page.locator('#welcome-room').textContent()).resolves.toBe(`#${room}`)
      await expect(tab.page.locator('#room-name').textContent()).resolves.toBe(room)
      expect(await tab.page.title()).toBe(`#${room} · Switchyard chat`)
      expect(new URL(tab.page.url()).pathname + new URL(tab.page.url()).search + new URL(tab.page.url()).hash).toBe(href ?? `/${room}`)
      expect(tab.errors).toEqual([])
    }
  })

  it('puts /Team%20Blue and /team-blue in one room', async () => {
    const ann = await chat.open('Ann', '/Team%20Blue')
    const bob = await chat.open('Bob', '/team-blue')
    await send(ann.page, 'blue team, assemble')
    await bob.page.locator('#messages .message', { hasText: 'blue team, assemble' }).waitFor()
    // And a reload of the address the page now shows stays there.
    await ann.page.reload()
    await ann.page.locator('#messages .message', { hasText: 'blue team, assemble' }).waitFor()
    await expect(ann.page.locator('#room-name').textContent()).resolves.toBe('team-blue')
  })
})
