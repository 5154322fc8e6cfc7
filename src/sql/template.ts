import { compileExpr, readsDocument } from './compile-expr.js'
import { documentOf, type SqlContext } from './context.js'
import type { Eval } from './function-def.js'
import { parseTemplateExpression } from './parser.js'
import { renderValue } from './values.js'

/** What a substitution template is filled in from. */
export interface TemplateEnv {
  /**
   * The message. Names in `${...}` are looked up in its payload, and
   * functions such as topic(2) and clientid() read the rest of it.
   */
  ctx: SqlContext
  /**
   * The rule's SELECT output. Expressions do not see it: AWS evaluates a
   * template "separately from the SELECT statement", so an AS alias cannot
   * be referenced, only the original payload, functions and operators
   * (developerguide/iot-substitution-templates.md). Accepted so that
   * callers can pass one event shape; `${device}` for `topic(2) AS device`
   * is empty here as on AWS, and `${topic(2)}` is what works on both.
   */
  output?: unknown
}

/**
 * Compiles a substitution template such as `chat/pub/${room}` or
 * `${topic(2)}/${clientid()}`, once. Each `${...}` holds any SQL
 * expression; its value is written as text (a string as it is, Undefined as
 * nothing, anything else as JSON), passed through `encode` when given (a
 * URL's values are percent-encoded; the template's own text never is).
 * Throws SqlSyntaxError, with the column within the template, when an
 * expression does not parse.
 */
export function compileTemplate(template: string, encode?: (text: string) => string): (env: TemplateEnv) => string {
  const texts: string[] = []
  const exprs: Eval[] = []
  let parses = false
  let from = 0
  for (;;) {
    const open = template.indexOf('${', from)
    if (open < 0) break
    texts.push(template.slice(from, open))
    const { expr, end } = parseTemplateExpression(template, open + 2)
    exprs.push(compileExpr(expr))
    parses ||= readsDocument(expr)
    from = end
  }
  const tail = template.slice(from)

  if (exprs.length === 0) return () => template
  const render = encode ? (value: unknown) => encode(renderValue(value)) : renderValue
  // The payload is parsed (once per message, see SqlContext.parsed) only for a template that reads it.
  const docOf = parses ? documentOf : () => undefined
  if (exprs.length === 1) {
    const [head, only] = [texts[0]!, exprs[0]!]
    return ({ ctx }) => head + render(only(docOf(ctx), ctx)) + tail
  }
  return ({ ctx }) => {
    const doc = docOf(ctx)
    let out = ''
    for (let i = 0; i < exprs.length; i++) out += texts[i]! + render(exprs[i]!(doc, ctx))
    return out + tail
  }
}
