import type { Logger } from 'pino'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { clipped, RefusalLog, WARNINGS_PER_SECOND } from './refusal-log.js'

afterEach(() => {
  vi.useRealTimers()
})

/** A logger that keeps what it is given, by level. */
function recorder() {
  const lines: Array<{ level: 'warn' | 'debug'; details: Record<string, unknown>; message: string }> = []
  const at = (level: 'warn' | 'debug') => (details: Record<string, unknown>, message: string) => void lines.push({ level, details, message })
  return { lines, log: { warn: at('warn'), debug: at('debug') } as unknown as Logger }
}

describe('RefusalLog', () => {
  it('writes ten warnings a second, the rest at debug level, and then one warning that counts them', () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] })
    const { lines, log } = recorder()
    const refusals = new RefusalLog(log, 'refused connections')
    for (let i = 0; i < 25; i++) refusals.warn({ i }, 'connection refused')
    expect(lines.filter((l) => l.level === 'warn')).toHaveLength(WARNINGS_PER_SECOND)
    expect(lines.filter((l) => l.level === 'debug')).toHaveLength(25 - WARNINGS_PER_SECOND)
    vi.advanceTimersByTime(1000)
    expect(lines.at(-1)).toEqual({ level: 'warn', details: { suppressed: 15 }, message: '15 more refused connections suppressed in the last second (logged at debug level)' })
    // A new second, a new allowance.
    refusals.warn({ i: 25 }, 'connection refused')
    expect(lines.at(-1)).toEqual({ level: 'warn', details: { i: 25 }, message: 'connection refused' })
  })
})

describe('clipped', () => {
  it('keeps short text, and 64 characters of long text with its length', () => {
    expect(clipped(undefined)).toBeUndefined()
    expect(clipped('a'.repeat(64))).toBe('a'.repeat(64))
    expect(clipped('a'.repeat(65))).toBe(`${'a'.repeat(64)}... (65 characters)`)
  })

  it('does not cut a surrogate pair in two', () => {
    const text = `${'a'.repeat(63)}\u{1F600}tail`
    expect(clipped(text)).toBe(`${'a'.repeat(63)}... (${text.length} characters)`)
  })
})
