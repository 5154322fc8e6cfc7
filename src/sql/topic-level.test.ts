import { describe, expect, it } from 'vitest'
import { compileTemplate } from './index.js'
import { topicLevel } from './topic-level.js'

const fill = (template: string, payload: unknown) =>
  compileTemplate(template)({ ctx: { payload: Buffer.from(JSON.stringify(payload)), topic: 'in', clientId: 'c', timestamp: 0 } })

describe('topicLevel()', () => {
  it.each([
    ['lobby', 'lobby'],
    ['team-blue_2', 'team-blue_2'],
    ['lobby/../x', 'lobby%2F..%2Fx'],
    ['a+b#c', 'a%2Bb%23c'],
    ['50%', '50%25'],
    ['$SYS', '%24SYS'],
    ['a$b', 'a$b'],
    ['.', '%2E'],
    ['..', '%2E%2E'],
    ['...', '...'],
    ['', '%'],
    ['nul\u0000tab\tdel\u007f', 'nul%00tab%09del%7F'],
    ['café ☕', 'café ☕'],
  ])('%j is the level %j', (value, level) => {
    expect(topicLevel(value)).toBe(level)
    expect(level).not.toMatch(/[/+#\u0000]/)
  })

  it('is reversed by decodeURIComponent, so that no two values share a level', () => {
    for (const value of ['lobby/../x', 'a+b#c', '50%', '%2F', '$SYS', '.', '..', 'nul\u0000', 'é/ü']) {
      expect(decodeURIComponent(topicLevel(value))).toBe(value)
    }
    expect(topicLevel('%2F')).not.toBe(topicLevel('/'))
  })

  it('is what the chat example\'s functions compute for the keys and topics of rooms', async () => {
    const chat = await import('../../examples/chat/functions/topic-level.js' as string) as { topicLevel(room: string): string }
    for (const room of ['lobby', 'lobby/../x', 'a+b#c', '50%', '$SYS', '.', '..', '...', '', 'tab\there\u0085', 'é/ü']) {
      expect(chat.topicLevel(room)).toBe(topicLevel(room))
    }
  })

  it('is a template function of any case, and keeps Undefined empty as other functions do', () => {
    expect(fill('chat/pub/${topicLevel(room)}', { room: 'lobby/../x' })).toBe('chat/pub/lobby%2F..%2Fx')
    expect(fill('${TOPICLEVEL(n)}/${topiclevel(missing)}', { n: 12 })).toBe('12/')
  })
})
