import { describe, expect, it } from 'vitest'
import { invalidTopicFilter, invalidTopicName, topicMatches } from './match.js'

/** The spec, written as plainly as possible: the reference for the fast matcher. */
function naiveMatches(filter: string, topic: string): boolean {
  if (topic.startsWith('$') && (filter.startsWith('+') || filter.startsWith('#'))) return false
  const f = filter.split('/')
  const t = topic.split('/')
  for (let i = 0; i < f.length; i++) {
    if (f[i] === '#') return true
    if (i >= t.length) return false
    if (f[i] !== '+' && f[i] !== t[i]) return false
  }
  return f.length === t.length
}

describe('topicMatches', () => {
  it.each([
    ['a/b/c', 'a/b/c', true],
    ['a/b/c', 'a/b', false],
    ['a/b', 'a/b/c', false],
    ['a/+/c', 'a/b/c', true],
    ['a/+/c', 'a//c', true],
    ['a/+', 'a/', true],
    ['a/+', 'a', false],
    ['a/#', 'a', true],
    ['a/#', 'a/b/c', true],
    ['#', 'a/b', true],
    ['#', '/a', true],
    ['+/+', '/a', true],
    ['+', '$events/x', false],
    ['#', '$SYS/broker', false],
    ['+/presence/#', '$events/presence/connected/c1', false],
    ['$events/#', '$events/presence/connected/c1', true],
    ['$events/presence/+/+', '$events/presence/connected/c1', true],
    ['sport/tennis/#', 'sport/tennis', true],
    ['sport/tennis/#', 'sport/tennisplayer', false],
    ['ab', 'a', false],
    ['a', 'ab', false],
  ])('%s matches %s: %s', (filter, topic, expected) => {
    expect(topicMatches(filter, topic)).toBe(expected)
    expect(naiveMatches(filter, topic)).toBe(expected)
  })

  it('agrees with the naive reference on random topics and filters', () => {
    const words = ['a', 'b', '', '$x', 'ab']
    let seed = 42
    const rand = (n: number) => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff
      return seed % n
    }
    const topic = () => Array.from({ length: 1 + rand(4) }, () => words[rand(words.length)]).join('/')
    const filter = () => {
      const levels = Array.from({ length: 1 + rand(4) }, () => [...words, '+'][rand(words.length + 1)]!)
      if (rand(3) === 0) levels.push('#')
      return levels.join('/')
    }
    for (let i = 0; i < 20_000; i++) {
      const f = filter()
      const t = topic()
      expect(topicMatches(f, t), `${f} vs ${t}`).toBe(naiveMatches(f, t))
    }
  })
})

describe('topic validation', () => {
  it('refuses wildcards in topic names', () => {
    expect(invalidTopicName('a/+')).toMatch(/wildcards/)
    expect(invalidTopicName('')).toMatch(/empty/)
    expect(invalidTopicName('a/b')).toBeUndefined()
  })
  it('refuses misplaced wildcards in filters', () => {
    expect(invalidTopicFilter('a/#/b')).toMatch(/last/)
    expect(invalidTopicFilter('a/b+')).toMatch(/whole level/)
    expect(invalidTopicFilter('a/+/#')).toBeUndefined()
  })
})
