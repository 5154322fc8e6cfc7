/**
 * The syntax tree the parser builds and the compiler turns into closures.
 * It lives only while a rule loads. `at` is the 0-based offset of the node
 * in the source, kept so that compile-time errors can name a column.
 */
export type Expr =
  | { k: 'literal'; value: unknown; at: number }
  /** `*`: the whole payload (or the current element of a nested SELECT). */
  | { k: 'star'; at: number }
  /** A name looked up in the current document: `color`. */
  | { k: 'field'; name: string; at: number }
  /** `expr.name` */
  | { k: 'member'; object: Expr; name: string; at: number }
  /** `expr[index]` */
  | { k: 'index'; object: Expr; index: Expr; at: number }
  /** A function call; `name` is lower-cased (function names ignore case). */
  | { k: 'call'; name: string; written: string; args: Expr[]; at: number }
  | { k: 'cast'; value: Expr; type: CastType; at: number }
  | { k: 'negate'; value: Expr; at: number }
  | { k: 'not'; value: Expr; at: number }
  | { k: 'binary'; op: BinaryOp; left: Expr; right: Expr; at: number }
  /** `CASE subject WHEN .. THEN .. ELSE .. END`, or searched when `subject` is absent. */
  | { k: 'case'; subject: Expr | undefined; whens: Array<{ when: Expr; then: Expr }>; otherwise: Expr | undefined; at: number }
  | { k: 'array'; items: Expr[]; at: number }
  | { k: 'object'; entries: Array<{ key: string; value: Expr }>; at: number }
  /** A nested object query: `(SELECT VALUE n FROM e WHERE ...)`. */
  | { k: 'select'; query: SelectCore<Expr>; at: number }

export type BinaryOp = 'OR' | 'AND' | '=' | '<>' | '<' | '<=' | '>' | '>=' | '+' | '-' | '*' | '/' | '%'

export type CastType = 'string' | 'int' | 'decimal' | 'boolean'

export interface SelectItem {
  expr: Expr
  /** The output key path from `AS a.b`, if given. */
  alias: string[] | undefined
}

/**
 * One SELECT. The statement's FROM is a topic filter (a string); a nested
 * query's FROM is an expression that yields the array to iterate.
 */
export interface SelectCore<From> {
  value: boolean
  items: SelectItem[]
  from: From
  where: Expr | undefined
}

/** A whole statement as written: `SELECT ... FROM 'topic/#' WHERE ...`. */
export interface Statement extends SelectCore<string> {
  /** The offset of the FROM literal, for errors about the topic filter. */
  fromAt: number
}
