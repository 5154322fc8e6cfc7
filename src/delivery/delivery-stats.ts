/** How many durations a target keeps for its percentiles: the last minute's, at most this many. */
const KEPT = 512
const WINDOW_MS = 60_000

/** What the deliveries to one target did since the start, and how long the last minute's took. */
export interface TargetStats {
  delivered: number
  failed: number
  deadLettered: number
  /** The 99th percentile of the attempts of the last minute, in ms; null without any. */
  p99Ms: number | null
}

/**
 * Counts per target address (`function:resize`, `url:...`), kept by the
 * dispatcher for the console: counters it increments and a ring of recent
 * attempt durations. Nothing here is read on the delivery path.
 */
export class DeliveryStats {
  readonly #targets = new Map<string, { delivered: number; failed: number; deadLettered: number; ms: Float64Array; at: Float64Array; next: number }>()

  attempted(target: string, ok: boolean, ms: number): void {
    const t = this.#of(target)
    if (ok) t.delivered++
    else t.failed++
    t.ms[t.next] = ms
    t.at[t.next] = Date.now()
    t.next = (t.next + 1) % KEPT
  }

  deadLettered(target: string): void {
    this.#of(target).deadLettered++
  }

  /** Every target seen, with its counts. */
  all(): Map<string, TargetStats> {
    const since = Date.now() - WINDOW_MS
    const out = new Map<string, TargetStats>()
    for (const [target, t] of this.#targets) {
      const recent: number[] = []
      for (let i = 0; i < KEPT; i++) if (t.at[i]! >= since && t.at[i]! > 0) recent.push(t.ms[i]!)
      recent.sort((a, b) => a - b)
      const p99Ms = recent.length === 0 ? null : recent[Math.min(recent.length - 1, Math.ceil(recent.length * 0.99) - 1)]!
      out.set(target, { delivered: t.delivered, failed: t.failed, deadLettered: t.deadLettered, p99Ms })
    }
    return out
  }

  #of(target: string) {
    let t = this.#targets.get(target)
    if (!t) this.#targets.set(target, (t = { delivered: 0, failed: 0, deadLettered: 0, ms: new Float64Array(KEPT), at: new Float64Array(KEPT), next: 0 }))
    return t
  }
}
