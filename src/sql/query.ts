import { SqlEvalError } from '../errors.js'
import { compileExpr } from './compile-expr.js'
import { documentOf, type SqlContext } from './context.js'
import { parseStatement } from './parser.js'
import { compileProjection, wholePayload } from './select.js'
import { toBoolean } from './values.js'

/** What a compiled rule statement says about one message. */
export interface QueryResult {
  /** True when the statement has no WHERE or its WHERE is true, and the SELECT could be evaluated: the rule's actions run. */
  passed: boolean
  /**
   * The SELECT output: an object, or any value for `SELECT VALUE`; for
   * `SELECT *` of a payload that is not JSON, the payload's bytes (a
   * Buffer). Undefined when the message did not pass (unless
   * `selectAlways`). It may share structure with the payload (`SELECT *`
   * hands on the parsed payload itself): treat it as read-only.
   */
  output: unknown
  /** The WHERE result: true or false, or undefined when there is no WHERE or it is neither (Undefined, a number ...). */
  where: boolean | undefined
  /** Why the SELECT could not be evaluated on this message (then `passed` is false). */
  error?: SqlEvalError
}

export interface RunOptions {
  /** Evaluate the SELECT even when the WHERE filters the message out, to show what it would give (a dry run). */
  selectAlways?: boolean
}

/** A rule statement, parsed and compiled once, run per message. */
export interface CompiledQuery {
  /** The statement as written. */
  readonly sql: string
  /** The FROM topic filter, e.g. `chat/pub/#`; matching topics against it is the caller's job. */
  readonly from: string
  /**
   * True for `SELECT *` alone: the output is the payload itself, its JSON
   * document (or, for a payload that is not JSON, its bytes). Where such an
   * output goes out whole, the payload's own bytes say the same, with
   * nothing written out again.
   */
  readonly selectsPayload: boolean
  /**
   * True for `SELECT * FROM ...` without WHERE: every message passes, so a
   * caller may skip `run` until the output is needed.
   */
  readonly passThrough: boolean
  /**
   * Evaluates the statement against one message: the WHERE first, then,
   * if it passed, the SELECT. Never throws: a missing field, a wrong type
   * or a division by zero is Undefined, as on AWS, and a SELECT that AWS
   * refuses for this message is `error`. Parses the payload at most once
   * per context (see `SqlContext.parsed`).
   */
  run(ctx: SqlContext, options?: RunOptions): QueryResult
}

/**
 * Parses and compiles an AWS IoT SQL (2016-03-23) statement. Throws
 * SqlSyntaxError, whose message names the 1-based column and what was
 * expected there, e.g. "expected FROM but found 'WHERE' at column 17".
 */
export function compileSql(sql: string): CompiledQuery {
  const statement = parseStatement(sql)
  const where = statement.where ? compileExpr(statement.where) : undefined
  const select = compileProjection(statement.value, statement.items, compileExpr, true)
  return {
    sql,
    from: statement.from,
    selectsPayload: select === wholePayload,
    passThrough: !where && select === wholePayload,
    run(ctx, options) {
      const doc = documentOf(ctx)
      let verdict: boolean | undefined
      let passed = true
      if (where) {
        verdict = toBoolean(where(doc, ctx))
        passed = verdict === true
      }
      if (!passed && !options?.selectAlways) return { passed, output: undefined, where: verdict }
      try {
        return { passed, output: select(doc, ctx), where: verdict }
      } catch (err) {
        if (!(err instanceof SqlEvalError)) throw err
        return { passed: false, output: undefined, where: verdict, error: err }
      }
    },
  }
}
