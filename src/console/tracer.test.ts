import { afterEach, describe, expect, it, vi } from 'vitest'
import { TRACE_LIMITS, Tracer, type TraceEvent } from './tracer.js'

describe('Tracer', () => {
  afterEach(() => vi.useRealTimers())

  it('costs one field read while no one watches, and is off again when the last watch stops', () => {
    const tracer = new Tracer()
    expect(tracer.watching).toBe(false)
    const stop = tracer.watch({ filter: 'a/#' }, () => {})
    expect(tracer.watching).toBe(true)
    stop()
    expect(tracer.watching).toBe(false)
    expect(tracer.begin('a/b', 'c', Buffer.from('x'))).toBeUndefined()
  })

  it('takes only the messages of its filter or client id', () => {
    const tracer = new Tracer()
    const seen: TraceEvent[] = []
    tracer.watch({ filter: 'a/+' }, (e) => seen.push(e))
    tracer.watch({ clientId: 'dev-1' }, (e) => seen.push(e))
    tracer.begin('a/b', 'other', Buffer.from('1'))
    tracer.begin('b/c', 'dev-1', Buffer.from('2'))
    tracer.begin('b/c', 'dev-2', Buffer.from('3'))
    expect(seen.map((e) => e.type === 'message' && [e.topic, e.clientId])).toEqual([['a/b', 'other'], ['b/c', 'dev-1']])
  })

  it(`takes at most ${TRACE_LIMITS.perSecond} messages a second and ends after ${TRACE_LIMITS.messages}`, () => {
    vi.useFakeTimers({ now: 1_000_000 })
    const tracer = new Tracer()
    const seen: TraceEvent[] = []
    tracer.watch({ filter: '#' }, (e) => seen.push(e))
    for (let i = 0; i < 100; i++) tracer.begin('t', undefined, Buffer.from('x'))
    expect(seen.filter((e) => e.type === 'message')).toHaveLength(TRACE_LIMITS.perSecond)
    for (let second = 0; second < 60 && tracer.watching; second++) {
      vi.advanceTimersByTime(1000)
      for (let i = 0; i < 100; i++) tracer.begin('t', undefined, Buffer.from('x'))
    }
    expect(seen.filter((e) => e.type === 'message')).toHaveLength(TRACE_LIMITS.messages)
    expect(seen.at(-1)).toMatchObject({ type: 'ended', reason: `${TRACE_LIMITS.messages} messages traced` })
    expect(tracer.watching).toBe(false)
  })

  it('shows a payload as text when it is UTF-8, else as base64, and at most 1 KB of it', () => {
    const tracer = new Tracer()
    const seen: TraceEvent[] = []
    tracer.watch({ filter: '#' }, (e) => seen.push(e))
    tracer.begin('t', undefined, Buffer.from([0xff, 0x00, 0xfe]))
    tracer.begin('t', undefined, Buffer.from('é'.repeat(2000)))
    const [binary, long] = seen as Array<Extract<TraceEvent, { type: 'message' }>>
    expect(binary!.payload).toEqual({ text: '/wD+', encoding: 'base64', bytes: 3 })
    expect(long!.payload.bytes).toBe(4000)
    expect(long!.payload.text.length).toBeLessThanOrEqual(1024)
  })
})
