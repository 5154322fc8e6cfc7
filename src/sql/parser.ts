import { invalidTopicFilter } from '../topics/match.js'
import type { Expr, SelectCore, SelectItem, Statement } from './ast.js'
import { ExpressionParser } from './expression-parser.js'
import { Lexer, type Token } from './lexer.js'

/*
 * A hand-written recursive-descent parser for AWS IoT SQL (version
 * 2016-03-23). No maintained JavaScript library parses this dialect: it is
 * not ANSI SQL (topic filters in FROM, JSON paths, object and array
 * literals, nested SELECTs over arrays, `SELECT VALUE`), and a general SQL
 * parser would both reject valid rules and accept what AWS rejects.
 */

/** Parses a whole rule statement; throws SqlSyntaxError naming the column and what was expected. */
export function parseStatement(sql: string): Statement {
  const p = new StatementParser(new Lexer(sql))
  p.expectKeyword('SELECT')
  const statement = p.selectBody(false) as Statement
  const end = p.lexer.peek()
  if (end.kind !== 'eof') p.fail(statement.where ? 'the end of the statement' : 'WHERE or the end of the statement', end)
  return statement
}

/**
 * Parses the expression of a substitution template that starts at `start`
 * (just after `${`) and its closing `}`. Returns the offset just past the `}`.
 */
export function parseTemplateExpression(template: string, start: number): { expr: Expr; end: number } {
  const p = new StatementParser(new Lexer(template, start, 'the end of the template'))
  const expr = p.expression()
  const close = p.lexer.next()
  if (close.kind !== 'op' || close.text !== '}') p.fail(`'}' to close the \${ at column ${start - 1}`, close)
  return { expr, end: close.start + 1 }
}

class StatementParser extends ExpressionParser {
  /** Everything after SELECT: the select list, FROM, and WHERE. */
  selectBody(nested: boolean): Statement | SelectCore<Expr> {
    const value = this.#valueKeyword()
    const items: SelectItem[] = [this.#selectItem()]
    while (this.isOp(this.lexer.peek(), ',')) {
      if (value) this.fail('FROM', this.lexer.peek(), 'SELECT VALUE takes a single expression')
      this.lexer.next()
      items.push(this.#selectItem())
    }
    this.expectKeyword('FROM')
    let from: string | Expr
    const fromToken = this.lexer.peek()
    if (nested) {
      from = this.expression()
    } else {
      if (fromToken.kind !== 'string' || fromToken.quote !== "'") this.fail("the topic filter in single quotes, such as 'sensors/+/temp'", fromToken)
      const invalid = invalidTopicFilter(fromToken.value)
      if (invalid) this.fail('a valid topic filter', fromToken, invalid)
      this.lexer.next()
      from = fromToken.value
    }
    let where: Expr | undefined
    if (this.isKeyword(this.lexer.peek(), 'WHERE')) {
      this.lexer.next()
      where = this.expression()
    }
    return nested ? { value, items, from: from as Expr, where } : { value, items, from: from as string, where, fromAt: fromToken.start }
  }

  /**
   * `VALUE` right after SELECT is the keyword when an expression follows it;
   * otherwise it is a field named value (`SELECT value FROM ...`).
   */
  #valueKeyword(): boolean {
    const token = this.lexer.peek()
    if (!this.isKeyword(token, 'VALUE')) return false
    const after = this.lexer.peek(1)
    let startsExpression: boolean
    if (after.kind === 'ident') startsExpression = after.quoted || !['FROM', 'AS'].includes(after.text.toUpperCase())
    else if (after.kind === 'op') startsExpression = ['(', '[', '{'].includes(after.text) || (after.text === '*' && this.#endsSelectList(this.lexer.peek(2)))
    else startsExpression = after.kind !== 'eof'
    if (startsExpression) this.lexer.next()
    return startsExpression
  }

  #endsSelectList(token: Token): boolean {
    return this.isKeyword(token, 'FROM') || this.isOp(token, ',')
  }

  #selectItem(): SelectItem {
    const expr = this.expression()
    let alias: string[] | undefined
    if (this.isKeyword(this.lexer.peek(), 'AS')) {
      this.lexer.next()
      alias = [this.name('a name after AS')]
      while (this.isOp(this.lexer.peek(), '.')) {
        this.lexer.next()
        alias.push(this.name('a name after .'))
      }
    }
    return { expr, alias }
  }
}
