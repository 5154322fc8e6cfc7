import type { Client } from 'aedes'
import type { Page } from 'playwright-core'
import { describe, expect, it } from 'vitest'
import { send, texts, useChatBrowser } from './helpers/chat-browser.js'
import { useApp } from './helpers/use-app.js'
import { waitUntil } from './helpers/wait.js'

const f = useApp()

/** The join and leave lines of the conversation, in order. */
function activity(page: Page): Promise<string[]> {
  return page.locator('#messages .activity').allTextContents()
}

describe('the conversation in Chromium: who came and went, the last message, the time', () => {
  const chat = useChatBrowser(f)

  it('says in the conversation who joined and who left, never oneself, and not who was there already', async () => {
    const ann = await chat.open('Ann', '/hall')
    await send(ann.page, 'anyone here?')
    const bob = await chat.open('Bob', '/hall')
    await waitUntil(() => activity(ann.page), { until: (lines) => lines.includes('Bob joined'), what: '"Bob joined" in Ann\'s conversation' })
    // Bob was welcomed with the backlog: Ann, there before him, is no news to him.
    await bob.page.locator('#messages .message', { hasText: 'anyone here?' }).waitFor()
    expect(await activity(bob.page)).toEqual([])
    await send(bob.page, 'me!')
    await ann.page.locator('#messages .message', { hasText: 'me!' }).waitFor()

    await bob.page.close()
    await waitUntil(() => activity(ann.page), { until: (lines) => lines.includes('Bob left'), timeout: 10_000, what: '"Bob left" in Ann\'s conversation' })
    // In its place among the messages, and apart from them.
    expect(await ann.page.locator('#messages > li').evaluateAll((items) => items.map((li) => li.textContent!.includes('anyone here?') ? 'message 1' : li.textContent!.includes('me!') ? 'message 2' : li.textContent)))
      .toEqual(['message 1', 'Bob joined', 'message 2', 'Bob left'])
    expect(await texts(ann.page)).toEqual(['anyone here?', 'me!'])
    expect(await activity(ann.page)).not.toContain('Ann joined')
    expect(ann.errors).toEqual([])
  }, 60_000)

  it('makes one line of many joins close together', async () => {
    const ann = await chat.open('Ann', '/hall')
    const names = ['Bob', 'Cy', 'Dee', 'Eve', 'Flo']
    for (const name of names) await chat.open(name, '/hall')
    const [line] = await waitUntil(() => activity(ann.page), {
      until: (lines) => lines.length === 1 && / and 3 others joined$/.test(lines[0]!),
      what: 'one line for five joins in Ann\'s conversation',
    })
    expect(line).toMatch(/^(Bob|Cy|Dee|Eve|Flo), (Bob|Cy|Dee|Eve|Flo) and 3 others joined$/)
    // Everyone is named in the line's tooltip.
    const title = await ann.page.locator('#messages .activity').getAttribute('title')
    expect(title!.split(', ').sort()).toEqual(names)
  }, 90_000)

  it('words lines of one to many people', async () => {
    const tab = await chat.visit('/hall')
    const words = await tab.page.evaluate(`import('/chat/activity.js').then(({ describeActivity }) => [
      describeActivity(['Ann'], 'joined'),
      describeActivity(['Ann', 'Bob'], 'left'),
      describeActivity(['Ann', 'Bob', 'Cy'], 'joined'),
      describeActivity(['Ann', 'Bob', 'Cy', 'Dee', 'Eve'], 'joined'),
    ])`)
    expect(words).toEqual(['Ann joined', 'Ann and Bob left', 'Ann, Bob and Cy joined', 'Ann, Bob and 3 others joined'])
  })

  it('keeps the last message in view when the offline note appears', async () => {
    const connections: Client[] = []
    chat.app.app.broker.aedes.on('clientReady', (client) => connections.push(client))
    const ann = await chat.open('Ann', '/hall', { viewport: { width: 800, height: 420 } })
    for (let i = 1; i <= 10; i++) await send(ann.page, `line ${i}`)
    const last = ann.page.locator('#messages .message', { hasText: 'line 10' })
    await last.waitFor()
    const scroller = ann.page.locator('#scroller')
    // More than fits: the conversation scrolls, and shows its end.
    expect(await scroller.evaluate((el) => el.scrollHeight > el.clientHeight)).toBe(true)

    // Offline, and kept so: the network is down and the broker drops the connection.
    await ann.page.context().setOffline(true)
    connections.find((c) => c.id.startsWith('chat-'))!.close()
    const note = ann.page.locator('#offline-note')
    await note.waitFor({ state: 'visible' })
    const boxes = async () => {
      const [message, visible, bar] = await Promise.all([last.boundingBox(), scroller.boundingBox(), note.boundingBox()])
      return { message: message!, visible: visible!, bar: bar! }
    }
    const seen = await waitUntil(boxes, {
      until: ({ message, visible, bar }) => message.y + message.height <= visible.y + visible.height && message.y + message.height <= bar.y,
      what: 'the last message above the offline note, inside the visible conversation',
    })
    expect(seen.message.y).toBeGreaterThanOrEqual(seen.visible.y)
    await ann.page.context().setOffline(false)
  }, 60_000)

  it('writes a 12-hour time without a leading zero, and keeps a 24-hour one as it is', async () => {
    const tab = await chat.visit('/hall')
    const formatted = await tab.page.evaluate(`import('/chat/time.js').then(({ clockFormats, formatTime }) => {
      const at = new Date(Date.UTC(2024, 0, 15, 9, 5))
      const sameDay = new Date(Date.UTC(2024, 0, 15, 18, 0))
      const later = new Date(Date.UTC(2024, 0, 17, 12, 0))
      return ['en-US', 'en-GB', 'de-DE', 'ko-KR'].map((locale) => {
        const formats = clockFormats(locale, 'UTC')
        return [locale, formatTime(at, sameDay, formats), formatTime(at, later, formats)]
      })
    })`)
    expect(formatted).toEqual([
      ['en-US', '9:05 AM', 'Mon, Jan 15, 9:05 AM'],
      ['en-GB', '09:05', 'Mon 15 Jan, 09:05'],
      ['de-DE', '09:05', 'Mo., 15. Jan., 09:05'],
      ['ko-KR', '오전 9:05', '1월 15일 (월) 오전 9:05'],
    ])

    // And on the page, in the browser's own locale.
    for (const [locale, pattern] of [['en-US', /^(1[0-2]|[1-9]):[0-5]\d\s[AP]M$/], ['en-GB', /^([01]\d|2[0-3]):[0-5]\d$/]] as const) {
      const tab = await chat.open(`Ann ${locale}`, `/time-${locale}`, { context: { locale } })
      await send(tab.page, 'what time is it?')
      const time = await tab.page.locator('#messages .message time').first().textContent()
      expect([locale, time]).toEqual([locale, expect.stringMatching(pattern)])
    }
  }, 60_000)
})
