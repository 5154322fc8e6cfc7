import { z } from 'zod'

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }

/**
 * Parses `500ms`, `3s`, `5m`, `24h`, `7d` (or a bare number of seconds) into
 * milliseconds; returns a message for anything else.
 */
export function parseDuration(value: string | number): number | string {
  if (typeof value === 'number') {
    return Number.isFinite(value) && value >= 0 ? value * 1000 : `must be a positive duration, not ${value}`
  }
  const match = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)\s*$/.exec(value)
  if (!match) return `must be a duration such as 500ms, 3s, 5m, 24h or 7d, not ${JSON.stringify(value)}`
  return Math.round(Number(match[1]) * UNITS[match[2]!]!)
}

/** A config duration, in milliseconds once parsed. */
export const duration = z.union([z.string(), z.number()], { error: 'must be a duration such as 500ms, 3s, 5m, 24h or 7d' })
  .transform((value, ctx) => {
    const ms = parseDuration(value)
    if (typeof ms === 'string') {
      ctx.addIssue({ code: 'custom', message: ms })
      return z.NEVER
    }
    return ms
  })
