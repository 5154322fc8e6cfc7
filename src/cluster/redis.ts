import { Redis, type RedisOptions } from 'ioredis'

/** The URL as it may be logged: without its password. */
export function redactedUrl(url: string): string {
  try {
    const parsed = new URL(url)
    if (parsed.password) parsed.password = '***'
    return parsed.toString()
  } catch {
    return '(an invalid Redis URL)'
  }
}

/**
 * A connection to the cluster's Redis that rides out outages: it reconnects
 * for as long as it takes (backing off to 2 s between tries), and commands
 * given meanwhile wait for it rather than fail, so a Redis restart delays a
 * publish instead of losing it.
 */
export function redisConnection(url: string, name: string, options: RedisOptions = {}): Redis {
  return new Redis(url, {
    connectionName: name,
    lazyConnect: true,
    maxRetriesPerRequest: null,
    enableAutoPipelining: true,
    retryStrategy: (times) => Math.min(times * 100, 2000),
    ...options,
  })
}

/**
 * Connects once, or throws a sentence that says which Redis could not be
 * reached and why: what `switchyard start` reports when Redis is not there.
 */
export async function connectOrExplain(redis: Redis, url: string, timeoutMs = 5000): Promise<void> {
  let timer: NodeJS.Timeout | undefined
  let lastError: Error | undefined
  const onError = (err: Error) => (lastError = err)
  redis.on('error', onError)
  try {
    await Promise.race([
      redis.connect().then(() => redis.ping()),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(lastError ?? new Error(`no answer within ${timeoutMs / 1000} s`)), timeoutMs)
      }),
    ])
  } catch (err) {
    redis.disconnect()
    const reason = (lastError ?? (err as Error)).message
    throw new Error(`cannot reach Redis at ${redactedUrl(url)} (cluster.redis): ${reason}`)
  } finally {
    clearTimeout(timer)
    redis.off('error', onError)
  }
}
