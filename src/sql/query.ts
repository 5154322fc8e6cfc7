import { compileExpr } from './compile-expr.js'
import { documentOf, type SqlContext } from './context.js'
import { parseStatement } from './parser.js'
import { compileProjection, star } from './select.js'
import { toBoolean } from './values.js'

/** What a compiled rule statement says about one message. */
export interface QueryResult {
  /** True when the statement has no WHERE or its WHERE is true: the rule's actions run. */
  passed: boolean
  /**
   * The SELECT output: an object, or any value for `SELECT VALUE`.
   * Undefined when the message did not pass (unless `selectAlways`). It
   * may share structure with the payload (`SELECT *` hands on the parsed
   * payload itself): treat it as read-only.
   */
  output: unknown
  /** The WHERE result: true or false, or undefined when there is no WHERE or it is neither (Undefined, a number ...). */
  where: boolean | undefined
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
   * document (or, for a payload that is not JSON, the payload in base64).
   * Where such an output goes out whole as JSON, the payload's own bytes
   * say the same, with nothing written out again.
   */
  readonly selectsPayload: boolean
  /**
   * True for `SELECT * FROM ...` without WHERE: every message passes, so a
   * caller may skip `run` until the output is needed.
   */
  readonly passThrough: boolean
  /**
   * Evaluates the statement against one message: the WHERE first, then,
   * if it passed, the SELECT. Data problems never throw: a missing field, a
   * wrong type or a division by zero is Undefined, as on AWS. Parses the
   * payload at most once per context (see `SqlContext.parsed`).
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
  const select = compileProjection(statement.value, statement.items, compileExpr)
  return {
    sql,
    from: statement.from,
    selectsPayload: select === star,
    passThrough: !where && select === star,
    run(ctx, options) {
      const doc = documentOf(ctx)
      let verdict: boolean | undefined
      let passed = true
      if (where) {
        verdict = toBoolean(where(doc, ctx))
        passed = verdict === true
      }
      const output = passed || options?.selectAlways ? select(doc, ctx) : undefined
      return { passed, output, where: verdict }
    },
  }
}
