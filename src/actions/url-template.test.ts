import { describe, expect, it } from 'vitest'
import { encodeUrlValue, hasDotSegment, urlTemplateString } from './url-template.js'

const fill = (url: string, payload: unknown) =>
  urlTemplateString.parse(url).render({ ctx: { payload: Buffer.from(JSON.stringify(payload)), topic: 'dev/d1', clientId: 'c', timestamp: 0 } })

describe('url templates', () => {
  it('percent-encode every value and leave the template\'s own text as written', () => {
    expect(fill('http://h/a/${v}?q=${w}&t=${topic(2)}', { v: '../../x?y=#', w: 'a b&c=d' })).toBe('http://h/a/..%2F..%2Fx%3Fy%3D%23?q=a%20b%26c%3Dd&t=d1')
    expect(fill('http://h/${n}/${o}', { n: 12, o: { a: 1 } })).toBe('http://h/12/%7B%22a%22%3A1%7D')
    expect(fill('http://h/${missing}x', {})).toBe('http://h/x')
  })

  it('encode a lone surrogate as U+FFFD rather than throw', () => {
    expect(encodeUrlValue('a\ud800b')).toBe('a%EF%BF%BDb')
    expect(encodeUrlValue('😀')).toBe('%F0%9F%98%80')
  })

  it.each([
    ['http://h/a/../b', true],
    ['http://h/a/./b', true],
    ['http://h/a/%2E%2e/b', true],
    ['http://h/a/.%2E', true],
    ['http://h/a\\..\\b', true],
    ['http://h/a/..b/...', false],
    ['http://h/a/b?x=/../', false],
    ['http://h/a#/../', false],
    ['http://h', false],
    ['http://h/', false],
  ])('find dot segments in the path of %s: %s', (url, found) => {
    expect(hasDotSegment(url)).toBe(found)
  })
})
