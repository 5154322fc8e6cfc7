import { z } from 'zod'
import { duration } from './duration.js'

/**
 * How a failed delivery is retried: exponential backoff with equal jitter (half the wait fixed, half random)
 * between `initialDelay` and `maxDelay`, at most `attempts` tries in all and
 * never after `maxAge` since the event; then it is dead-lettered.
 */
export const retrySchema = z.strictObject({
  attempts: z.number({ error: 'must be a whole number' }).int().min(1).max(1000).default(5),
  initialDelay: duration.default(200),
  maxDelay: duration.default(30_000),
  maxAge: duration.default(24 * 3600 * 1000),
})

export type RetryPolicy = z.output<typeof retrySchema>

export const DEFAULT_RETRY: RetryPolicy = Object.freeze({ attempts: 5, initialDelay: 200, maxDelay: 30_000, maxAge: 24 * 3600 * 1000 })

/** The wait before try number `attempt + 1` (attempt counts from 1), with equal jitter. */
export function backoff(policy: RetryPolicy, attempt: number, random = Math.random): number {
  const ceiling = Math.min(policy.maxDelay, policy.initialDelay * 2 ** (attempt - 1))
  return Math.round(ceiling / 2 + random() * (ceiling / 2))
}
