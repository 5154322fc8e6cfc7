import type { DeadLetter, Delivery, DeliveryContext } from '../storage/outbox-store.js'

/*
 * The parts of a delivery that only Node reads, as JSON arrays (shorter
 * than objects: each byte is kept once per delivery). The scripts store
 * them as they are and hand them back (see outbox-scripts.ts).
 */

/** What never changes: [event, context]. */
export function packBody(d: { event: unknown; context: DeliveryContext }): string {
  return JSON.stringify([d.event ?? null, d.context])
}

/** Where a route sent it: [spec, via], '' for neither. */
export function packRoute(spec: unknown, via: string | null | undefined): string {
  return (spec ?? null) === null && (via ?? null) === null ? '' : JSON.stringify([spec ?? null, via ?? null])
}

/** How it went so far: [attempts, lastError]. */
export function packTries(attempts: number, error: string): string {
  return JSON.stringify([attempts, error])
}

/** What a dead letter adds: [deliveryId, attempts, error]. */
export function packInfo(deliveryId: number, attempts: number, error: string): string {
  return JSON.stringify([deliveryId, attempts, error])
}

type Value = Buffer | number | null

const text = (v: Value): string => (Buffer.isBuffer(v) ? v.toString('utf8') : String(v))

function unpackCommon(target: Value, body: Value, route: Value) {
  const [event, context] = JSON.parse(text(body)) as [unknown, DeliveryContext]
  const r = text(route)
  const [spec, via] = r === '' ? [null, null] : (JSON.parse(r) as [unknown, string | null])
  return { target: text(target), spec, event, context, via }
}

/** A claim script's reply: 7 values per delivery (id, target, lease end, createdAt, body, route, tries). */
export function toDeliveries(reply: unknown): Delivery[] {
  const r = reply as Value[]
  const deliveries: Delivery[] = []
  for (let i = 0; i + 6 < r.length; i += 7) {
    const t = text(r[i + 6]!)
    const [attempts, lastError] = t === '' ? [0, null] : (JSON.parse(t) as [number, string])
    deliveries.push({
      id: r[i] as number,
      ...unpackCommon(r[i + 1]!, r[i + 4]!, r[i + 5]!),
      attempts,
      createdAt: r[i + 3] as number,
      nextAt: r[i + 2] as number,
      held: false,
      lastError,
    })
  }
  return deliveries
}

/** The dead letters script's reply: 7 values per letter (id, target, createdAt, failedAt, body, route, info). */
export function toDeadLetters(reply: unknown): DeadLetter[] {
  const r = reply as Value[]
  const letters: DeadLetter[] = []
  for (let i = 0; i + 6 < r.length; i += 7) {
    const [deliveryId, attempts, error] = JSON.parse(text(r[i + 6]!)) as [number, number, string]
    letters.push({
      id: r[i] as number,
      deliveryId,
      ...unpackCommon(r[i + 1]!, r[i + 4]!, r[i + 5]!),
      attempts,
      createdAt: r[i + 2] as number,
      failedAt: r[i + 3] as number,
      error,
      lastError: error,
    })
  }
  return letters
}
