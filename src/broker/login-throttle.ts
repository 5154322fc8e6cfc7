import { createHash } from 'node:crypto'
import type { LoginThrottleConfig } from './auth-schema.js'

interface Entry {
  /** Failed logins since the entry was made (or reset by a success). */
  failures: number
  /** Checks admitted and not yet decided. */
  inFlight: number
  lockedUntil: number
  /** When the entry may be forgotten: `window` after its last failure or the end of its lock. */
  expires: number
}

export type Admission =
  | { ok: true; ticket: LoginTicket }
  | { ok: false; reason: string }

/** A lock that a failure began: what is locked, for how long, after how many failures. */
export interface Lock {
  kind: 'username' | 'address'
  ms: number
  failures: number
}

export interface LoginTicket {
  /** The password was right: the username's count starts again. */
  succeeded(): void
  /** The password was wrong; returns the locks this failure began. */
  failed(): Lock[]
  /** The check did not happen (no room to hash it): nothing is counted. */
  abandoned(): void
}

/**
 * Failed password logins counted per username and per source address. Past
 * `maxFailures` (per username) or `maxAddressFailures` (per address), the key
 * is locked for `lockout`, doubled for each further failure up to
 * `maxLockout`; while it is locked, tries are refused before any hash. So a
 * guesser gets five tries at a username, then one per 10 s, 20 s, ... and
 * after seven more one per 15 minutes (fail2ban's bantime.increment, iOS's
 * passcode delays). A success resets the username's count; an address' count
 * is kept, or one valid account would let its holder guess at the others.
 *
 * A key may have no more checks in flight than it has failures left before
 * its lock: otherwise guesses sent at once would all be hashed before the
 * first failure counted. Entries are forgotten `window` after their last
 * failure or lock, and at most `maxTracked` of each kind are kept (the least
 * recently used go first), so memory stays bounded whatever the attacker
 * sends: about 200 bytes an entry, 2 MB each at the default 10,000.
 */
export class LoginThrottle {
  readonly #usernames: FailureCounter
  readonly #addresses: FailureCounter

  constructor(config: LoginThrottleConfig, now: () => number = Date.now) {
    this.#usernames = new FailureCounter(config, config.maxFailures, now)
    this.#addresses = new FailureCounter(config, config.maxAddressFailures, now)
  }

  /** Whether a password check of `username` from `source` (see sourceOf) may start; the ticket says how it ended. */
  admit(username: string, source: string): Admission {
    // Hashed: a username may be 64 KB long, and only equality matters here.
    const user = createHash('sha256').update(username).digest('base64')
    const byAddress = this.#addresses.check(source)
    if (typeof byAddress === 'string') return { ok: false, reason: `too many failed logins from ${source}: ${byAddress}` }
    const byUser = this.#usernames.check(user)
    if (typeof byUser === 'string') return { ok: false, reason: `too many failed logins for this username: ${byUser}` }
    byAddress?.start()
    byUser?.start()
    // Each ticket is closed once, whatever its holder does.
    let open = true
    const close = () => {
      const was = open
      open = false
      return was
    }
    return {
      ok: true,
      ticket: {
        succeeded: () => {
          if (!close()) return
          byAddress?.abandoned()
          byUser?.succeeded()
        },
        failed: () => {
          if (!close()) return []
          const locks: Lock[] = []
          const address = byAddress?.failed()
          if (address) locks.push({ kind: 'address', ...address })
          const user = byUser?.failed()
          if (user) locks.push({ kind: 'username', ...user })
          return locks
        },
        abandoned: () => {
          if (!close()) return
          byAddress?.abandoned()
          byUser?.abandoned()
        },
      },
    }
  }
}

interface Slot {
  start(): void
  succeeded(): void
  /** The lock this failure began, if any. */
  failed(): { ms: number; failures: number } | undefined
  abandoned(): void
}

/** The failures of one kind of key. */
class FailureCounter {
  readonly #entries = new Map<string, Entry>()

  constructor(
    private readonly config: LoginThrottleConfig,
    private readonly max: number,
    private readonly now: () => number,
  ) {}

  /** A slot for one more check of `key`, undefined when this counter is off, or why not. */
  check(key: string): Slot | undefined | string {
    if (this.max === 0) return undefined
    const now = this.now()
    const entry = this.#touch(key, now)
    if (entry.lockedUntil > now) return `locked for ${Math.ceil((entry.lockedUntil - now) / 1000)} s more`
    if (entry.inFlight >= Math.max(1, this.max - entry.failures)) return 'as many checks under way as failures left before a lock'
    return {
      start: () => void entry.inFlight++,
      abandoned: () => void entry.inFlight--,
      succeeded: () => {
        entry.inFlight--
        entry.failures = 0
        entry.lockedUntil = 0
      },
      failed: () => {
        entry.inFlight--
        const at = this.now()
        entry.failures++
        entry.expires = at + this.config.window
        const beyond = entry.failures - this.max
        if (beyond < 0) return undefined
        const ms = Math.min(this.config.lockout * 2 ** Math.min(beyond, 32), this.config.maxLockout)
        entry.lockedUntil = at + ms
        entry.expires = entry.lockedUntil + this.config.window
        return { ms, failures: entry.failures }
      },
    }
  }

  /** The entry of `key`, made or renewed when forgotten, and moved to the young end of the map. */
  #touch(key: string, now: number): Entry {
    let entry = this.#entries.get(key)
    if (entry) this.#entries.delete(key)
    if (!entry || (entry.expires <= now && entry.inFlight === 0)) {
      entry = { failures: 0, inFlight: 0, lockedUntil: 0, expires: now + this.config.window }
    }
    this.#entries.set(key, entry)
    // A Map iterates in insertion order: the first key is the least recently used.
    while (this.#entries.size > this.config.maxTracked) this.#entries.delete(this.#entries.keys().next().value!)
    return entry
  }
}
