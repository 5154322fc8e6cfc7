import { inspect } from 'node:util'

export interface WaitOptions<T> {
  /** What is awaited, as the failure says it: "the dead letter of function:audit". */
  what: string
  /** Whether a value read is the one awaited; without it, any truthy value is. */
  until?: (value: T) => boolean
  /** How long to wait, in ms. */
  timeout?: number
  /** How long between reads, in ms. */
  interval?: number
}

/**
 * Reads `read()` until its value is the one awaited, and resolves with it;
 * rejects after `timeout` (5 s unless told) with what it waited for and the
 * last value read. A read that throws counts as not yet, and its error is
 * named if time runs out.
 */
export async function waitUntil<T>(read: () => T | Promise<T>, options: WaitOptions<T>): Promise<T> {
  const { what, until = Boolean, timeout = 5000, interval = 20 } = options
  const deadline = performance.now() + timeout
  let last: { value: T } | { error: unknown } | undefined
  for (;;) {
    try {
      const value = await read()
      if (until(value)) return value
      last = { value }
    } catch (error) {
      last = { error }
    }
    if (performance.now() >= deadline) break
    await new Promise((resolve) => setTimeout(resolve, interval))
  }
  const seen = last === undefined ? '' : 'error' in last ? `; the last read threw ${(last.error as Error).message ?? last.error}` : `; the last read gave ${inspect(last.value, { depth: 4, breakLength: Infinity })}`
  throw new Error(`timed out after ${timeout} ms waiting for ${what}${seen}`)
}

/** Resolves as `promise` does, or rejects after `ms` with what it waited for. */
export async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms)
  })
  try {
    return await Promise.race([promise, timeout])
  } finally {
    clearTimeout(timer)
  }
}
