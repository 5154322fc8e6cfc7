/**
 * The AWS IoT SQL dialect (version 2016-03-23): rule statements and
 * substitution templates, parsed once into closures and run per message.
 *
 * - `compileSql(sql)` → a CompiledQuery with the FROM filter and `run(ctx)`.
 * - `compileTemplate(text)` → a function that fills `${...}` in from a message.
 *
 * Both throw SqlSyntaxError (code SY_SQL_SYNTAX) naming the column and what
 * was expected; evaluating never throws: bad data is Undefined, and a
 * SELECT that AWS refuses for a message is the result's `error`.
 */
export { compileSql, type CompiledQuery, type QueryResult, type RunOptions } from './query.js'
export { compileTemplate, type TemplateEnv } from './template.js'
export type { SqlContext } from './context.js'
