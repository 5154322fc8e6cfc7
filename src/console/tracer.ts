import { randomUUID } from 'node:crypto'
import { topicMatches } from '../topics/match.js'

/** What a watcher asks to see: messages on topics matching `filter`, or from one client, or both. */
export interface TraceRequest {
  filter?: string | undefined
  clientId?: string | undefined
}

/** One step of a traced message, as the console receives it. */
export type TraceEvent =
  | { type: 'message'; trace: string; at: number; topic: string; clientId: string | null; payload: Preview }
  | { type: 'rule'; trace: string; at: number; rule: string; passed: boolean; error?: string; output?: unknown }
  | { type: 'action'; trace: string; at: number; rule: string; action: number; kind: string; ok: boolean; ms: number; error?: string; did?: Record<string, unknown> }
  | { type: 'delivery'; trace: string; at: number; target: string; via: string | null; ok: boolean; ms: number; error?: string }
  | { type: 'ended'; at: number; reason: string }

export interface Preview {
  /** The first `PREVIEW_BYTES` bytes, as text when they are UTF-8, otherwise base64. */
  text: string
  encoding: 'utf8' | 'base64'
  bytes: number
}

/** Limits of one watch: it ends after this many messages, and skips those past the rate. */
export const TRACE_LIMITS = Object.freeze({ messages: 500, perSecond: 20 })
const PREVIEW_BYTES = 1024
const SPANS = 1000

interface Watch {
  readonly request: TraceRequest
  readonly send: (event: TraceEvent) => void
  seen: number
  tokens: number
  refilled: number
}

/**
 * Message tracing for the console. Off unless someone watches: the rules
 * engine asks `watching()` (one field read) for each message, and nothing
 * else runs. A watch sees the messages matching its filter or client id as
 * they enter, each rule they matched and what its SELECT produced, each
 * action's result and time, and the durable deliveries they caused (the
 * function or endpoint, through which route), each with the trace id of
 * the message. A watch takes at most `perSecond` messages a second
 * (others are skipped) and ends after `messages`.
 */
export class Tracer {
  readonly #watches = new Set<Watch>()
  /** The recent spans, by id, for the deliveries they cause; the oldest go past `SPANS`. */
  readonly #spans = new Map<string, TraceSpan>()
  /** True while someone watches. */
  watching = false

  watch(request: TraceRequest, send: (event: TraceEvent) => void): () => void {
    const watch: Watch = { request, send, seen: 0, tokens: TRACE_LIMITS.perSecond, refilled: Date.now() }
    this.#watches.add(watch)
    this.watching = true
    return () => this.#stop(watch)
  }

  /** The watches that take this message, each charged for it; undefined when none does. */
  begin(topic: string, clientId: string | undefined, payload: Buffer): TraceSpan | undefined {
    let takers: Watch[] | undefined
    const now = Date.now()
    for (const watch of this.#watches) {
      const { filter, clientId: client } = watch.request
      if (filter !== undefined && !topicMatches(filter, topic)) continue
      if (client !== undefined && client !== clientId) continue
      watch.tokens = Math.min(TRACE_LIMITS.perSecond, watch.tokens + ((now - watch.refilled) / 1000) * TRACE_LIMITS.perSecond)
      watch.refilled = now
      if (watch.tokens < 1) continue
      watch.tokens--
      ;(takers ??= []).push(watch)
    }
    if (!takers) return undefined
    const span = new TraceSpan(randomUUID(), takers)
    this.#spans.set(span.id, span)
    if (this.#spans.size > SPANS) this.#spans.delete(this.#spans.keys().next().value!)
    span.send({ type: 'message', trace: span.id, at: now, topic, clientId: clientId ?? null, payload: preview(payload) })
    for (const watch of takers) if (++watch.seen >= TRACE_LIMITS.messages) this.#stop(watch, `${TRACE_LIMITS.messages} messages traced`)
    return span
  }

  /** A durable delivery of a traced message was attempted (the dispatcher tells, for a delivery whose context names a trace). */
  delivered(trace: string, attempt: { target: string; via: string | null; ok: boolean; ms: number; error?: string }): void {
    const span = this.#spans.get(trace)
    if (!span) return
    span.send({ type: 'delivery', trace, at: Date.now(), ...attempt, ms: Math.round(attempt.ms * 100) / 100 })
  }

  #stop(watch: Watch, reason?: string): void {
    if (!this.#watches.delete(watch)) return
    if (reason) watch.send({ type: 'ended', at: Date.now(), reason })
    this.watching = this.#watches.size > 0
    if (!this.watching) this.#spans.clear()
  }
}

/** One traced message: where its steps are sent. */
export class TraceSpan {
  constructor(readonly id: string, private readonly watches: readonly Watch[]) {}

  send(event: TraceEvent): void {
    for (const watch of this.watches) watch.send(event)
  }
}

function preview(payload: Buffer): Preview {
  const head = payload.subarray(0, PREVIEW_BYTES)
  const text = head.toString('utf8')
  const utf8 = Buffer.from(text, 'utf8').equals(head)
  return { text: utf8 ? text : head.toString('base64'), encoding: utf8 ? 'utf8' : 'base64', bytes: payload.length }
}
