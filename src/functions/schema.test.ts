import { describe, expect, it } from 'vitest'
import { functionsSchema } from './schema.js'

/** The first issue as the config loader would report it: its path and message. */
function problem(functions: unknown): { path: PropertyKey[]; message: string } | undefined {
  const result = functionsSchema.safeParse(functions)
  if (result.success) return undefined
  const issue = result.error.issues[0]!
  return { path: issue.path, message: issue.message }
}

describe('functions schema', () => {
  it('fills in defaults for local and HTTP functions', () => {
    expect(functionsSchema.parse({
      chat: { module: './functions/chat.js' },
      audit: { url: 'http://127.0.0.1:9000/audit', timeout: '2s', headers: { authorization: 'Bearer x' }, retry: { attempts: 3 } },
    })).toEqual({
      chat: { module: './functions/chat.js', timeout: 3000, publishSystemTopics: false, env: {}, maxExternalMemory: 128 * 1024 ** 2, concurrency: 1 },
      audit: {
        url: 'http://127.0.0.1:9000/audit',
        timeout: 2000,
        headers: { authorization: 'Bearer x' },
        retry: { attempts: 3, initialDelay: 200, maxDelay: 30_000, maxAge: 86_400_000 },
      },
    })
    expect(functionsSchema.parse({ audit: { url: 'https://example.test/a' } })).toEqual({ audit: { url: 'https://example.test/a', timeout: 5000, headers: {} } })
    expect(functionsSchema.parse(undefined)).toEqual({})
    expect(functionsSchema.parse({ f: { module: './f.js', env: { PORT: 8080, DEBUG: true, NAME: 'x' }, maxExternalMemory: '512MB' } }).f).toMatchObject({ env: { PORT: '8080', DEBUG: 'true', NAME: 'x' }, maxExternalMemory: 512 * 1024 ** 2 })
  })

  it('needs exactly one of module and url', () => {
    const message = 'must have either module (local code) or url (an HTTP function)'
    expect(problem({ chat: { module: './a.js', url: 'http://x/' } })).toEqual({ path: ['chat'], message })
    expect(problem({ chat: { timeout: '1s' } })).toEqual({ path: ['chat'], message })
  })

  it('names the keys each kind accepts', () => {
    expect(problem({ chat: { module: './a.js', headers: {} } })).toEqual({
      path: ['chat', 'headers'],
      message: 'is not a known key of a local function (expected one of: module, timeout, retry, publishSystemTopics, env, maxExternalMemory, concurrency)',
    })
    expect(problem({ audit: { url: 'http://x/', method: 'PUT' } })).toEqual({
      path: ['audit', 'method'],
      message: 'is not a known key of an HTTP function (expected one of: url, timeout, headers, retry)',
    })
  })

  it('explains bad values in one sentence', () => {
    expect(problem({ a: { url: 'ftp://x/' } })).toEqual({ path: ['a', 'url'], message: 'must be an http:// or https:// URL' })
    expect(problem({ a: { module: 3 } })).toEqual({ path: ['a', 'module'], message: 'must be the path of a JavaScript module' })
    expect(problem({ a: { module: './a.js', timeout: 'soon' } })).toEqual({ path: ['a', 'timeout'], message: 'must be a duration such as 500ms, 3s, 5m, 24h or 7d, not "soon"' })
    expect(problem({ a: { module: './a.js', timeout: '0s' } })).toEqual({ path: ['a', 'timeout'], message: 'must be longer than 0 ms' })
    expect(problem({ a: { module: './a.js', timeout: '1h' } })).toEqual({ path: ['a', 'timeout'], message: 'must be at most 15m' })
    expect(problem({ a: { url: 'http://x/', headers: { a: 1 } } })).toEqual({ path: ['a', 'headers', 'a'], message: 'must be a string' })
    expect(problem({ a: { module: './a.js', env: { '1X': 'v' } } })).toEqual({ path: ['a', 'env', '1X'], message: 'is not a variable name: use letters, digits and _, not starting with a digit' })
    expect(problem({ a: { module: './a.js', env: { X: ['v'] } } })).toEqual({ path: ['a', 'env', 'X'], message: 'must be a string' })
    expect(problem({ a: { module: './a.js', maxExternalMemory: '1MB' } })).toEqual({ path: ['a', 'maxExternalMemory'], message: 'must be at least 16MB' })
    expect(problem({ a: { module: './a.js', maxExternalMemory: 'lots' } })).toEqual({ path: ['a', 'maxExternalMemory'], message: 'must be a size such as 65536, 64KB or 1MB, not "lots"' })
    expect(problem({ a: 'chat.js' })).toEqual({ path: ['a'], message: 'must be a function such as { module: ./fn.js } or { url: http://host/path }' })
    expect(problem(['a'])).toEqual({ path: [], message: 'must map function names to functions' })
  })

  it('refuses a bad function name', () => {
    expect(problem({ 'has space': { module: './a.js' } })).toEqual({
      path: ['has space'],
      message: 'is not a valid function name: use letters, digits, _ . and - (up to 128), starting with a letter, digit or _',
    })
  })
})
