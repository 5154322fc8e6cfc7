import type { BinaryOp, CastType, Expr, SelectCore } from './ast.js'
import type { Lexer, Token } from './lexer.js'
import { syntaxError } from './syntax-error.js'

/*
 * The expression grammar of AWS IoT SQL, by recursive descent. Precedence,
 * loosest first: OR, AND, NOT, comparison (= <> != < <= > >=), + and -,
 * * / %, unary minus, then member access (a.b) and indexing (a[0]).
 */

/** Words that cannot be used as bare field names (backtick them to use them). */
const RESERVED = new Set(['SELECT', 'FROM', 'WHERE', 'AS', 'AND', 'OR', 'NOT', 'CASE', 'WHEN', 'THEN', 'ELSE', 'END', 'TRUE', 'FALSE', 'NULL'])

const COMPARISONS: Record<string, BinaryOp> = { '=': '=', '<>': '<>', '!=': '<>', '<': '<', '<=': '<=', '>': '>', '>=': '>=' }

/** The type names `cast(x AS Type)` accepts, per the AWS cast() reference. */
const CAST_TYPES: Record<string, CastType> = {
  STRING: 'string',
  NVARCHAR: 'string',
  TEXT: 'string',
  NTEXT: 'string',
  VARCHAR: 'string',
  INT: 'int',
  INTEGER: 'int',
  DOUBLE: 'decimal',
  DECIMAL: 'decimal',
  BOOL: 'boolean',
  BOOLEAN: 'boolean',
}

/**
 * Parses expressions; the statement parser extends it with the SELECT
 * grammar, which a nested `(SELECT ...)` inside an expression needs too.
 */
export abstract class ExpressionParser {
  constructor(readonly lexer: Lexer) {}

  fail(expected: string, token: Token = this.lexer.peek(), detail?: string): never {
    throw syntaxError(expected, this.lexer.describe(token), token.start, detail)
  }

  isKeyword(token: Token, word: string): boolean {
    return token.kind === 'ident' && !token.quoted && token.text.toUpperCase() === word
  }

  isOp(token: Token, op: string): boolean {
    return token.kind === 'op' && token.text === op
  }

  expectKeyword(word: string): Token {
    const token = this.lexer.peek()
    if (!this.isKeyword(token, word)) this.fail(word, token)
    return this.lexer.next()
  }

  expectOp(op: string, expected = `'${op}'`): Token {
    const token = this.lexer.peek()
    if (!this.isOp(token, op)) this.fail(expected, token)
    return this.lexer.next()
  }

  /** Everything after SELECT; `nested` for a `(SELECT ... FROM expr)` inside an expression. */
  abstract selectBody(nested: boolean): SelectCore<string | Expr>

  protected name(expected: string): string {
    const token = this.lexer.peek()
    if (token.kind !== 'ident' || (!token.quoted && RESERVED.has(token.text.toUpperCase()))) this.fail(expected, token)
    this.lexer.next()
    return token.text
  }

  expression(): Expr {
    return this.or()
  }

  protected or(): Expr {
    let left = this.and()
    while (this.isKeyword(this.lexer.peek(), 'OR')) {
      const at = this.lexer.next().start
      left = { k: 'binary', op: 'OR', left, right: this.and(), at }
    }
    return left
  }

  protected and(): Expr {
    let left = this.not()
    while (this.isKeyword(this.lexer.peek(), 'AND')) {
      const at = this.lexer.next().start
      left = { k: 'binary', op: 'AND', left, right: this.not(), at }
    }
    return left
  }

  protected not(): Expr {
    if (this.isKeyword(this.lexer.peek(), 'NOT')) {
      const at = this.lexer.next().start
      return { k: 'not', value: this.not(), at }
    }
    return this.comparison()
  }

  protected comparison(): Expr {
    let left = this.additive()
    for (;;) {
      const token = this.lexer.peek()
      const op = token.kind === 'op' ? COMPARISONS[token.text] : undefined
      if (!op) return left
      this.lexer.next()
      left = { k: 'binary', op, left, right: this.additive(), at: token.start }
    }
  }

  protected additive(): Expr {
    let left = this.multiplicative()
    for (;;) {
      const token = this.lexer.peek()
      if (this.isOp(token, '||')) {
        this.fail('an operator such as + or -', token, 'AWS IoT SQL has no || operator; use concat() or +')
      }
      if (!this.isOp(token, '+') && !this.isOp(token, '-')) return left
      this.lexer.next()
      left = { k: 'binary', op: token.text as BinaryOp, left, right: this.multiplicative(), at: token.start }
    }
  }

  protected multiplicative(): Expr {
    let left = this.unary()
    for (;;) {
      const token = this.lexer.peek()
      if (!this.isOp(token, '*') && !this.isOp(token, '/') && !this.isOp(token, '%')) return left
      this.lexer.next()
      left = { k: 'binary', op: token.text as BinaryOp, left, right: this.unary(), at: token.start }
    }
  }

  protected unary(): Expr {
    const token = this.lexer.peek()
    if (this.isOp(token, '-')) {
      this.lexer.next()
      const value = this.unary()
      // Fold `-5` into a literal: rules are full of negative constants.
      if (value.k === 'literal' && typeof value.value === 'number') return { k: 'literal', value: -value.value, at: token.start }
      return { k: 'negate', value, at: token.start }
    }
    return this.postfix()
  }

  protected postfix(): Expr {
    let expr = this.primary()
    for (;;) {
      const token = this.lexer.peek()
      if (this.isOp(token, '.')) {
        this.lexer.next()
        expr = { k: 'member', object: expr, name: this.name('a field name after .'), at: token.start }
      } else if (this.isOp(token, '[')) {
        this.lexer.next()
        const index = this.expression()
        this.expectOp(']')
        expr = { k: 'index', object: expr, index, at: token.start }
      } else {
        return expr
      }
    }
  }

  protected primary(): Expr {
    const token = this.lexer.peek()
    const at = token.start
    switch (token.kind) {
      case 'number':
        this.lexer.next()
        return { k: 'literal', value: token.value, at }
      case 'string':
        this.lexer.next()
        return { k: 'literal', value: token.value, at }
      case 'op':
        return this.bracketed(token)
      case 'ident':
        return this.named(token)
      default:
        return this.fail('an expression', token)
    }
  }

  protected bracketed(token: Extract<Token, { kind: 'op' }>): Expr {
    const at = token.start
    switch (token.text) {
      case '*':
        this.lexer.next()
        return { k: 'star', at }
      case '(': {
        this.lexer.next()
        if (this.isKeyword(this.lexer.peek(), 'SELECT')) {
          this.lexer.next()
          const query = this.selectBody(true) as SelectCore<Expr>
          this.expectOp(')', "')' to close the nested SELECT")
          return { k: 'select', query, at }
        }
        const inner = this.expression()
        this.expectOp(')')
        return inner
      }
      case '[': {
        this.lexer.next()
        const items = this.list(']', () => this.expression())
        return { k: 'array', items, at }
      }
      case '{': {
        this.lexer.next()
        const entries = this.list('}', () => {
          const key = this.lexer.peek()
          if (key.kind !== 'string' && key.kind !== 'ident') this.fail('a key (a string) in the object literal', key)
          this.lexer.next()
          this.expectOp(':')
          return { key: key.kind === 'string' ? key.value : key.text, value: this.expression() }
        })
        return { k: 'object', entries, at }
      }
      default:
        return this.fail('an expression', token)
    }
  }

  /** Comma-separated items up to `close`; the list may be empty. */
  protected list<T>(close: string, item: () => T): T[] {
    const items: T[] = []
    if (this.isOp(this.lexer.peek(), close)) {
      this.lexer.next()
      return items
    }
    for (;;) {
      items.push(item())
      const token = this.lexer.peek()
      if (this.isOp(token, ',')) {
        this.lexer.next()
        continue
      }
      this.expectOp(close, `',' or '${close}'`)
      return items
    }
  }

  protected named(token: Extract<Token, { kind: 'ident' }>): Expr {
    const at = token.start
    if (token.quoted) {
      this.lexer.next()
      return { k: 'field', name: token.text, at }
    }
    const upper = token.text.toUpperCase()
    const call = this.isOp(this.lexer.peek(1), '(')
    switch (upper) {
      case 'TRUE':
      case 'FALSE':
      case 'NULL':
        this.lexer.next()
        return { k: 'literal', value: upper === 'NULL' ? null : upper === 'TRUE', at }
      case 'CASE':
        return this.case()
      case 'CAST':
        if (call) return this.cast()
    }
    if (RESERVED.has(upper)) this.fail('an expression', token)
    this.lexer.next()
    if (!call) return { k: 'field', name: token.text, at }
    this.lexer.next()
    const args = this.list(')', () => this.expression())
    return { k: 'call', name: token.text.toLowerCase(), written: token.text, args, at }
  }

  protected case(): Expr {
    const at = this.lexer.next().start
    const subject = this.isKeyword(this.lexer.peek(), 'WHEN') ? undefined : this.expression()
    const whens: Array<{ when: Expr; then: Expr }> = []
    while (this.isKeyword(this.lexer.peek(), 'WHEN')) {
      this.lexer.next()
      const when = this.expression()
      this.expectKeyword('THEN')
      whens.push({ when, then: this.expression() })
    }
    if (whens.length === 0) this.fail('WHEN')
    let otherwise: Expr | undefined
    if (this.isKeyword(this.lexer.peek(), 'ELSE')) {
      this.lexer.next()
      otherwise = this.expression()
    }
    if (!this.isKeyword(this.lexer.peek(), 'END')) this.fail(otherwise ? 'END' : 'WHEN, ELSE or END')
    this.lexer.next()
    return { k: 'case', subject, whens, otherwise, at }
  }

  protected cast(): Expr {
    const at = this.lexer.next().start
    this.expectOp('(')
    const value = this.expression()
    this.expectKeyword('AS')
    const token = this.lexer.peek()
    const type = token.kind === 'ident' ? CAST_TYPES[token.text.toUpperCase()] : undefined
    if (!type) this.fail('a type (String, Int, Decimal, Double, Boolean, ...)', token)
    this.lexer.next()
    this.expectOp(')')
    return { k: 'cast', value, type, at }
  }
}
