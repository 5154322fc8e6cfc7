import { SqlSyntaxError } from '../errors.js'

/**
 * The one shape of every SQL error: "expected X but found Y at column N",
 * then what is wrong when that alone does not say it. `at` is 0-based.
 */
export function syntaxError(expected: string, found: string, at: number, detail?: string): SqlSyntaxError {
  const column = at + 1
  return new SqlSyntaxError(`expected ${expected} but found ${found} at column ${column}${detail ? `: ${detail}` : ''}`, column, expected)
}
