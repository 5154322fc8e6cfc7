/**
 * The error catalogue. Every error Switchyard raises on purpose is one of
 * these: a stable `code` that scripts and tests can rely on, a message written
 * for the user (one sentence that names the place and the fix), and the
 * underlying `cause` when there is one.
 */

export type ErrorCode =
  | 'SY_CONFIG_READ'
  | 'SY_CONFIG_YAML'
  | 'SY_CONFIG_INVALID'
  | 'SY_SQL_SYNTAX'
  | 'SY_SQL_EVAL'
  | 'SY_TEMPLATE'
  | 'SY_ACTION_FAILED'
  | 'SY_STORE'
  | 'SY_LISTEN'
  | 'SY_USAGE'
  | 'SY_DEPENDENCY'

export class SwitchyardError extends Error {
  readonly code: ErrorCode

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.code = code
    this.name = new.target.name
  }
}

/** Where in a config file a problem is; line and column are 1-based. */
export interface SourcePosition {
  file: string
  line: number
  column: number
}

/** A config file that cannot be read, parsed or validated. */
export class ConfigError extends SwitchyardError {
  readonly file: string
  readonly line: number | undefined
  readonly column: number | undefined
  /** The dotted path of the offending key, e.g. `listen.mqtt` or `rules[2].sql`. */
  readonly key: string | undefined

  constructor(
    code: Extract<ErrorCode, 'SY_CONFIG_READ' | 'SY_CONFIG_YAML' | 'SY_CONFIG_INVALID'>,
    message: string,
    where: { file: string; line?: number; column?: number; key?: string },
    options?: { cause?: unknown },
  ) {
    const at = where.line === undefined ? where.file : `${where.file}:${where.line}:${where.column ?? 1}`
    super(code, `${at}: ${where.key ? `${where.key} ` : ''}${message}`, options)
    this.file = where.file
    this.line = where.line
    this.column = where.column
    this.key = where.key
  }
}

/** A rule's SQL that does not parse. `column` is 1-based within the SQL text. */
export class SqlSyntaxError extends SwitchyardError {
  readonly column: number
  readonly expected: string

  constructor(message: string, column: number, expected: string) {
    super('SY_SQL_SYNTAX', message)
    this.column = column
    this.expected = expected
  }
}

/**
 * A rule's SQL that parses but cannot be evaluated on one message: the
 * rule fails for that message and none of its actions runs. Bad data is
 * Undefined, not this; only a statement AWS IoT refuses for such a message
 * is (`SELECT *` with other columns of a payload that is not JSON).
 */
export class SqlEvalError extends SwitchyardError {
  constructor(message: string) {
    super('SY_SQL_EVAL', message)
  }
}

/**
 * An action (republish, store, http, invoke) that failed. `retryable` says
 * whether trying again can help: a timeout or a 503 can, a 400 cannot.
 */
export class ActionError extends SwitchyardError {
  readonly retryable: boolean
  /**
   * The action chose not to act (a quota was spent): the message was
   * handled, and a durable action's publish is acknowledged all the same.
   */
  readonly refused: boolean

  constructor(message: string, retryable: boolean, options?: { cause?: unknown; refused?: boolean }) {
    super('SY_ACTION_FAILED', message, options)
    this.retryable = retryable
    this.refused = options?.refused ?? false
  }
}

/** The SQLite store failed (disk full, read-only file, corrupt database). */
export class StoreError extends SwitchyardError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('SY_STORE', message, options)
  }
}

/** A listener could not bind its address (port in use, no permission). */
export class ListenError extends SwitchyardError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('SY_LISTEN', message, options)
  }
}

/** The command line was used wrongly. */
export class UsageError extends SwitchyardError {
  constructor(message: string) {
    super('SY_USAGE', message)
  }
}

/**
 * An installed dependency is not the version Switchyard is written for:
 * a part of it that Switchyard relies on is missing or has changed.
 */
export class DependencyError extends SwitchyardError {
  constructor(message: string) {
    super('SY_DEPENDENCY', message)
  }
}
