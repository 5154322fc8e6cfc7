import type { Expr } from './ast.js'
import { CASTS } from './cast.js'
import type { SqlContext } from './context.js'
import type { CallSite, Eval } from './function-def.js'
import { FUNCTIONS, UNSUPPORTED_AWS_FUNCTIONS } from './functions.js'
import { BINARY, negate, not } from './operators.js'
import { compileNestedSelect, setKey, star } from './select.js'
import { syntaxError } from './syntax-error.js'
import { elementOf, fieldOf, sqlEquals, toBoolean } from './values.js'

/*
 * Turns a syntax tree into nested closures, once, when the rule loads.
 * Per message only the closures run: no tree walking, no name lookups, no
 * RegExp construction. Sub-expressions made only of literals are folded
 * into constants here.
 */

/** Compiles an expression; throws SqlSyntaxError for an unknown function or a bad literal argument. */
export function compileExpr(node: Expr): Eval {
  switch (node.k) {
    case 'literal': {
      const value = node.value
      return () => value
    }
    case 'star':
      return star
    case 'field':
    case 'member':
      return compilePath(node)
    case 'index': {
      const object = compileExpr(node.object)
      const index = compileExpr(node.index)
      return (doc, ctx) => elementOf(object(doc, ctx), index(doc, ctx))
    }
    case 'call':
      return compileCall(node)
    case 'cast': {
      const cast = CASTS[node.type]
      const value = compileExpr(node.value)
      return fold(node.value, (doc, ctx) => cast(value(doc, ctx)))
    }
    case 'negate': {
      const value = compileExpr(node.value)
      return fold(node.value, (doc, ctx) => negate(value(doc, ctx)))
    }
    case 'not': {
      const value = compileExpr(node.value)
      return fold(node.value, (doc, ctx) => not(value(doc, ctx)))
    }
    case 'binary': {
      const op = BINARY[node.op]
      const left = compileExpr(node.left)
      const right = compileExpr(node.right)
      const run: Eval = (doc, ctx) => op(left(doc, ctx), right(doc, ctx))
      return isConstant(node.left) && isConstant(node.right) ? constant(run) : run
    }
    case 'case':
      return compileCase(node)
    case 'array': {
      const items = node.items.map(compileExpr)
      const run: Eval = (doc, ctx) => items.map((item) => item(doc, ctx))
      return node.items.every(isConstant) ? constant(run) : run
    }
    case 'object':
      return compileObject(node)
    case 'select':
      return compileNestedSelect(node.query, compileExpr)
  }
}

/**
 * Whether evaluating the expression may read the payload's document: it
 * names a field or `*`, or holds a nested SELECT. A template whose
 * expressions do not (`${topic(2)}`, `${clientid()}`) is filled without
 * parsing the payload.
 */
export function readsDocument(node: Expr): boolean {
  switch (node.k) {
    case 'literal':
      return false
    case 'call':
      return node.args.some(readsDocument)
    case 'negate':
    case 'not':
    case 'cast':
      return readsDocument(node.value)
    case 'binary':
      return readsDocument(node.left) || readsDocument(node.right)
    case 'index':
      return readsDocument(node.object) || readsDocument(node.index)
    case 'member':
      return readsDocument(node.object)
    case 'case':
      return (node.subject !== undefined && readsDocument(node.subject))
        || node.whens.some((w) => readsDocument(w.when) || readsDocument(w.then))
        || (node.otherwise !== undefined && readsDocument(node.otherwise))
    case 'array':
      return node.items.some(readsDocument)
    case 'object':
      return node.entries.some((e) => readsDocument(e.value))
    default:
      // star, field, select
      return true
  }
}

/** A literal, or built from literals by operators and pure functions only. */
function isConstant(node: Expr): boolean {
  switch (node.k) {
    case 'literal':
      return true
    case 'call': {
      const def = FUNCTIONS.get(node.name)
      return def !== undefined && def.pure && node.args.every(isConstant)
    }
    case 'negate':
    case 'not':
    case 'cast':
      return isConstant(node.value)
    case 'binary':
      return isConstant(node.left) && isConstant(node.right)
    case 'array':
      return node.items.every(isConstant)
    case 'object':
      return node.entries.every((e) => isConstant(e.value))
    default:
      return false
  }
}

/** Runs a closure that needs no message once, now, and returns its value from then on. */
function constant(run: Eval): Eval {
  const value = run(undefined, undefined as unknown as SqlContext)
  return () => value
}

function fold(operand: Expr, run: Eval): Eval {
  return isConstant(operand) ? constant(run) : run
}

/**
 * `a.b.c`: a chain of names from the document compiles to one closure that
 * walks the keys, rather than a closure per step. A key that Object.prototype
 * also has (`constructor`, `toString`) is read as an own property only.
 */
function compilePath(node: Extract<Expr, { k: 'field' | 'member' }>): Eval {
  const keys: string[] = []
  let base: Expr = node
  while (base.k === 'member') {
    keys.unshift(base.name)
    base = base.object
  }
  let root: Eval | undefined
  if (base.k === 'field') keys.unshift(base.name)
  else root = compileExpr(base)
  const plain = keys.every((key) => !(key in Object.prototype))
  const step = plain ? plainField : fieldOf

  if (!root && keys.length === 1) {
    const key = keys[0]!
    return (doc) => step(doc, key)
  }
  if (!root && keys.length === 2) {
    const [k0, k1] = keys as [string, string]
    return (doc) => step(step(doc, k0), k1)
  }
  const from = root ?? ((doc: unknown) => doc)
  return (doc, ctx) => {
    let value = from(doc, ctx)
    for (let i = 0; i < keys.length && value !== undefined; i++) value = step(value, keys[i]!)
    return value
  }
}

/** A field whose name Object.prototype lacks: a plain read finds own properties only. */
function plainField(value: unknown, key: string): unknown {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>)[key] : undefined
}

function compileCall(node: Extract<Expr, { k: 'call' }>): Eval {
  const def = FUNCTIONS.get(node.name)
  if (!def) {
    const detail = UNSUPPORTED_AWS_FUNCTIONS.has(node.name)
      ? `${node.written}() is an AWS IoT function that Switchyard does not support`
      : `there is no SQL function named ${node.written}()`
    throw syntaxError('a known function', `'${node.written}'`, node.at, detail)
  }
  const [min, max] = def.arity
  const count = node.args.length
  if (count < min || count > max) {
    const wanted = min === max ? `${min} argument${min === 1 ? '' : 's'}` : max === Infinity ? `at least ${min} arguments` : `${min} to ${max} arguments`
    throw syntaxError(`${wanted} to ${node.written}()`, `${count}`, node.at)
  }
  const site: CallSite = {
    nodes: node.args,
    fail(expected, found, arg, detail) {
      throw syntaxError(expected, found, node.args[arg]?.at ?? node.at, detail)
    },
  }
  const run = def.build(node.args.map(compileExpr), site)
  return isConstant(node) ? constant(run) : run
}

/**
 * CASE (developerguide/iot-sql-case.md): the first WHEN equal to the
 * subject (by `=`) wins, then ELSE, else Undefined; an Undefined subject
 * is Undefined. `CASE WHEN condition THEN ...` (no subject) takes the first
 * WHEN that is true, as in ANSI SQL.
 */
function compileCase(node: Extract<Expr, { k: 'case' }>): Eval {
  const whens = node.whens.map((w) => compileExpr(w.when))
  const thens = node.whens.map((w) => compileExpr(w.then))
  const otherwise = node.otherwise ? compileExpr(node.otherwise) : undefined
  const n = whens.length
  if (node.subject) {
    const subject = compileExpr(node.subject)
    return (doc, ctx) => {
      const v = subject(doc, ctx)
      if (v === undefined) return undefined
      for (let i = 0; i < n; i++) if (sqlEquals(v, whens[i]!(doc, ctx)) === true) return thens[i]!(doc, ctx)
      return otherwise?.(doc, ctx)
    }
  }
  return (doc, ctx) => {
    for (let i = 0; i < n; i++) if (toBoolean(whens[i]!(doc, ctx)) === true) return thens[i]!(doc, ctx)
    return otherwise?.(doc, ctx)
  }
}

/** An object literal `{'a': x}`; like a SELECT list, it leaves out keys whose value is Undefined. */
function compileObject(node: Extract<Expr, { k: 'object' }>): Eval {
  const keys = node.entries.map((e) => e.key)
  const values = node.entries.map((e) => compileExpr(e.value))
  const run: Eval = (doc, ctx) => {
    const out: Record<string, unknown> = {}
    for (let i = 0; i < keys.length; i++) {
      const v = values[i]!(doc, ctx)
      if (v !== undefined) setKey(out, keys[i]!, v)
    }
    return out
  }
  return node.entries.every((e) => isConstant(e.value)) ? constant(run) : run
}
