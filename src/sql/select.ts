import { SqlEvalError } from '../errors.js'
import type { Expr, SelectCore, SelectItem } from './ast.js'
import { payloadBase64, payloadBytes, type SqlContext } from './context.js'
import type { Eval } from './function-def.js'
import { isObject, toBoolean } from './values.js'

/*
 * The SELECT list (developerguide/iot-sql-select.md): `*` is the whole
 * document, extra columns are merged into it, a column whose value is
 * Undefined is left out, and `SELECT VALUE x` outputs x itself.
 */

type Compile = (node: Expr) => Eval

/**
 * `*` within an expression (`SELECT * AS raw`, `${*}`): the current
 * document, or, for a payload that is not JSON, the raw payload in base64,
 * the form bytes take inside a JSON value.
 */
export const star: Eval = (doc, ctx) => (doc !== undefined ? doc : payloadBase64(ctx))

/**
 * `SELECT *` (or `SELECT VALUE *`) of the message: its JSON document, or,
 * for a payload that is not JSON, the payload's own bytes, a Buffer that
 * actions send unchanged, as AWS IoT does (developerguide/binary-payloads.md:
 * "handle your message payload as raw binary data ... use the * operator").
 */
export const wholePayload: Eval = (doc, ctx) => (doc !== undefined ? doc : payloadBytes(ctx))

/**
 * AWS adds columns to `*` only for "an empty or a JSON payload"
 * (developerguide/binary-payloads.md); its earlier text said outright that
 * `SELECT *, timestamp() AS timestamp` cannot be used with a binary one.
 * Dropping the payload and keeping the columns would lose it silently, so
 * the rule fails for that message instead, and says what to write.
 */
function refuseBinary(doc: unknown, ctx: SqlContext): void {
  if (doc === undefined && ctx.payload.length > 0) {
    throw new SqlEvalError("SELECT * with other columns needs a JSON payload, and this one is not JSON: select encode(*, 'base64') AS data with the other columns, or * alone for the payload's bytes")
  }
}

interface Column {
  /** The output key path; one key unless aliased `AS a.b`. */
  path: string[]
  value: Eval
}

/**
 * The key a column gets without AS: a field's own name (`color.red` gives
 * "red"), a function's name as written (`timestamp()` gives "timestamp"),
 * and otherwise `_` and the column's 1-based position.
 */
function columnName(expr: Expr, position: number): string {
  switch (expr.k) {
    case 'field':
    case 'member':
      return expr.name
    case 'call':
      return expr.written
    default:
      return `_${position}`
  }
}

/**
 * Compiles a SELECT list into the closure that builds one output. `top`:
 * the statement's own list, which projects the message (not an element of
 * a nested query), where `*` alone is the payload's bytes when it is not
 * JSON. Throws SqlEvalError for `*` and columns of a payload that is not
 * JSON (see refuseBinary).
 */
export function compileProjection(value: boolean, items: SelectItem[], compile: Compile, top = false): Eval {
  const only = items.length === 1 ? items[0]! : undefined
  const onlyStar = only !== undefined && only.expr.k === 'star' && !only.alias
  if (value) return top && onlyStar ? wholePayload : compile(items[0]!.expr)
  if (onlyStar) return top ? wholePayload : star

  const starAt = items.findIndex((item) => item.expr.k === 'star' && !item.alias)
  const columns: Column[] = []
  items.forEach((item, i) => {
    if (item.expr.k === 'star' && !item.alias) return
    columns.push({ path: item.alias ?? [columnName(item.expr, i + 1)], value: compile(item.expr) })
  })
  // A `*` placed after other columns would let the payload overwrite them;
  // the columns are placed in the order written, so that cannot be done by
  // copying the payload first. Such lists take the general path.
  const starFirst = starAt <= 0
  const flat = columns.every((c) => c.path.length === 1 && c.path[0] !== '__proto__')
  const refuses = top && starAt >= 0

  if (starFirst && flat) {
    const keys = columns.map((c) => c.path[0]!)
    const values = columns.map((c) => c.value)
    const withStar = starAt === 0
    return (doc, ctx) => {
      if (refuses) refuseBinary(doc, ctx)
      // Nothing but a JSON object can be merged: for an empty payload, a
      // JSON array or a nested query's element that is not an object, the
      // columns stand alone.
      const out: Record<string, unknown> = withStar && isObject(doc) ? copyOf(doc) : {}
      for (let i = 0; i < keys.length; i++) {
        const v = values[i]!(doc, ctx)
        if (v !== undefined) out[keys[i]!] = v
      }
      return out
    }
  }

  return (doc, ctx) => {
    if (refuses) refuseBinary(doc, ctx)
    const out: Record<string, unknown> = {}
    let c = 0
    for (let i = 0; i < items.length; i++) {
      if (i === starAt) {
        if (isObject(doc)) for (const key of Object.keys(doc)) setKey(out, key, doc[key])
        continue
      }
      const column = columns[c++]!
      const v = column.value(doc, ctx)
      if (v !== undefined) assignPath(out, column.path, v)
    }
    return out
  }
}

/**
 * A copy of a payload object to add columns to. Object.assign, not a
 * spread: V8 makes adding a key to a spread copy of a JSON.parse object
 * some ten times slower. But Object.assign would turn a JSON key named
 * __proto__ into the copy's prototype, so that rare payload is spread.
 */
function copyOf(doc: Record<string, unknown>): Record<string, unknown> {
  return Object.hasOwn(doc, '__proto__') ? { ...doc } : Object.assign({}, doc)
}

/**
 * Sets `out.a.b = v` for `AS a.b`. An inner object on the way is copied
 * before it is written to: it may be the payload's own, merged in by `*`.
 */
function assignPath(out: Record<string, unknown>, path: string[], v: unknown): void {
  let target = out
  for (let i = 0; i < path.length - 1; i++) {
    const key = path[i]!
    const existing = Object.hasOwn(target, key) ? target[key] : undefined
    const inner: Record<string, unknown> = isObject(existing) ? copyOf(existing) : {}
    setKey(target, key, inner)
    target = inner
  }
  setKey(target, path[path.length - 1]!, v)
}

/** `out[key] = v`, except that a key named __proto__ becomes a key, not the prototype. */
export function setKey(out: Record<string, unknown>, key: string, v: unknown): void {
  if (key === '__proto__') Object.defineProperty(out, key, { value: v, enumerable: true, writable: true, configurable: true })
  else out[key] = v
}

/**
 * A nested object query (developerguide/iot-sql-nested-queries.md): FROM
 * names an array in the current document; each element that passes WHERE
 * is projected, and the outputs form an array. Not an array: Undefined.
 */
export function compileNestedSelect(query: SelectCore<Expr>, compile: Compile): Eval {
  const from = compile(query.from)
  const where = query.where ? compile(query.where) : undefined
  const project = compileProjection(query.value, query.items, compile)
  return (doc, ctx) => {
    const source = from(doc, ctx)
    if (!Array.isArray(source)) return undefined
    const out: unknown[] = []
    for (const element of source as unknown[]) {
      if (where && toBoolean(where(element, ctx)) !== true) continue
      const v = project(element, ctx)
      if (v !== undefined) out.push(v)
    }
    return out
  }
}
