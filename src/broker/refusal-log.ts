import type { Logger } from 'pino'

/** Warnings a second that one RefusalLog writes before it holds the rest back. */
export const WARNINGS_PER_SECOND = 10

/** The characters of a client's own words (client id, username) that a log line keeps. */
export const KEPT_CHARACTERS = 64

/**
 * The warnings written when a connection is refused or a limit is broken,
 * kept to at most WARNINGS_PER_SECOND a second. Each one is the answer to
 * something a client did, so a client that does it in a loop (a refused
 * CONNECT takes one round trip) could otherwise write the log as fast as it
 * sends. Past the allowance, each is written at debug level instead, and
 * once the second is over one warning says how many were held back. The
 * metrics still count every one.
 */
export class RefusalLog {
  readonly #log: Logger
  readonly #what: string
  #windowStart = -Infinity
  #written = 0
  #held = 0
  #summary: NodeJS.Timeout | undefined

  /** `what` names the lines in the summary: "refused connections", "limit breaches". */
  constructor(log: Logger, what: string) {
    this.#log = log
    this.#what = what
  }

  warn(details: Record<string, unknown>, message: string): void {
    this.#write('warn', details, message)
  }

  /** As warn, for a refusal that is a client's mistake more than a threat; within the same allowance. */
  info(details: Record<string, unknown>, message: string): void {
    this.#write('info', details, message)
  }

  #write(level: 'warn' | 'info', details: Record<string, unknown>, message: string): void {
    const now = performance.now()
    if (now - this.#windowStart >= 1000) {
      this.#windowStart = now
      this.#written = 0
    }
    if (this.#written < WARNINGS_PER_SECOND) {
      this.#written++
      this.#log[level](details, message)
      return
    }
    this.#held++
    this.#log.debug(details, message)
    this.#summary ??= setTimeout(() => this.#summarize(), Math.max(0, this.#windowStart + 1000 - now)).unref()
  }

  #summarize(): void {
    this.#summary = undefined
    const held = this.#held
    this.#held = 0
    this.#log.warn({ suppressed: held }, `${held} more ${this.#what} suppressed in the last second (logged at debug level)`)
  }
}

/**
 * A client's own words as a log line keeps them: at most KEPT_CHARACTERS,
 * then how long they were. MQTT strings run to 65,535 bytes [MQTT-1.5.3]: a
 * refused CONNECT with a client id and a username that long would otherwise
 * put 130 KB in the log each time.
 */
export function clipped(text: string | undefined): string | undefined {
  if (text === undefined || text.length <= KEPT_CHARACTERS) return text
  // Not between the two halves of a surrogate pair.
  const end = isHighSurrogate(text.charCodeAt(KEPT_CHARACTERS - 1)) ? KEPT_CHARACTERS - 1 : KEPT_CHARACTERS
  return `${text.slice(0, end)}... (${text.length} characters)`
}

function isHighSurrogate(c: number): boolean {
  return c >= 0xd800 && c <= 0xdbff
}
