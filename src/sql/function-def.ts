import type { Expr } from './ast.js'
import type { SqlContext } from './context.js'

/**
 * A compiled expression: evaluates against the current document (the
 * payload's JSON, or one element in a nested SELECT) and the message.
 */
export type Eval = (doc: unknown, ctx: SqlContext) => unknown

/** What a function sees of its call site while it is built. */
export interface CallSite {
  /** The argument expressions as parsed, to read literal arguments at load time. */
  readonly nodes: readonly Expr[]
  /** Raises a SqlSyntaxError ("expected .. but found ..") pointing at argument `arg`. */
  fail(expected: string, found: string, arg: number, detail?: string): never
}

/**
 * One SQL function. Building a call site does the work that needs doing
 * once (checking literal arguments, compiling a regular expression); the
 * closure it returns does only the per-message part.
 */
export interface FunctionDef {
  /** The accepted argument counts, inclusive. */
  readonly arity: readonly [number, number]
  /** True when the result depends on the arguments alone, so literal arguments can be folded at load time. */
  readonly pure: boolean
  build(args: Eval[], site: CallSite): Eval
}

/** A function of one argument that depends on nothing else. */
export function pure1(fn: (a: unknown) => unknown): FunctionDef {
  return {
    arity: [1, 1],
    pure: true,
    build: ([a]) => (doc, ctx) => fn(a!(doc, ctx)),
  }
}

export function pure2(fn: (a: unknown, b: unknown) => unknown): FunctionDef {
  return {
    arity: [2, 2],
    pure: true,
    build: ([a, b]) => (doc, ctx) => fn(a!(doc, ctx), b!(doc, ctx)),
  }
}

export function pure3(fn: (a: unknown, b: unknown, c: unknown) => unknown): FunctionDef {
  return {
    arity: [3, 3],
    pure: true,
    build: ([a, b, c]) => (doc, ctx) => fn(a!(doc, ctx), b!(doc, ctx), c!(doc, ctx)),
  }
}

/** A function of two or three arguments; `c` is undefined when the call has two. */
export function pure2or3(fn: (a: unknown, b: unknown, c: unknown, count: number) => unknown): FunctionDef {
  return {
    arity: [2, 3],
    pure: true,
    build: ([a, b, c]) =>
      c ? (doc, ctx) => fn(a!(doc, ctx), b!(doc, ctx), c(doc, ctx), 3) : (doc, ctx) => fn(a!(doc, ctx), b!(doc, ctx), undefined, 2),
  }
}

/** A function of no arguments that reads the message (clientid(), timestamp()) or the clock. */
export function contextual(fn: (ctx: SqlContext) => unknown): FunctionDef {
  return {
    arity: [0, 0],
    pure: false,
    build: () => (_doc, ctx) => fn(ctx),
  }
}
