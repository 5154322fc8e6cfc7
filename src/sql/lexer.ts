import type { SqlSyntaxError } from '../errors.js'
import { syntaxError } from './syntax-error.js'

/**
 * Tokens of the AWS IoT SQL dialect. `start` is the 0-based offset in the
 * source text; errors report it 1-based as the column.
 */
export type Token =
  | { kind: 'ident'; text: string; quoted: boolean; start: number }
  | { kind: 'number'; text: string; value: number; start: number }
  | { kind: 'string'; text: string; value: string; quote: "'" | '"'; start: number }
  | { kind: 'op'; text: string; start: number }
  | { kind: 'eof'; text: ''; start: number }

const TWO_CHAR_OPS = new Set(['<>', '!=', '<=', '>=', '||'])
const ONE_CHAR_OPS = '()[]{},.:*+-/%=<>'

/**
 * Splits SQL text into tokens on demand. Lazy on purpose: a substitution
 * template hands the lexer the text after `${`, and nothing after the
 * closing `}` may be read as SQL (it is plain template text).
 */
export class Lexer {
  readonly #src: string
  #pos: number
  readonly #buffer: Token[] = []
  /** How the end of input is named in errors: "the end of the statement". */
  readonly endName: string

  constructor(src: string, start = 0, endName = 'the end of the statement') {
    this.#src = src
    this.#pos = start
    this.endName = endName
  }

  /** The token `ahead` positions from the current one, without consuming it. */
  peek(ahead = 0): Token {
    while (this.#buffer.length <= ahead) this.#buffer.push(this.#scan())
    return this.#buffer[ahead]!
  }

  next(): Token {
    const token = this.peek()
    this.#buffer.shift()
    return token
  }

  /** How a token reads in an error message. */
  describe(token: Token): string {
    switch (token.kind) {
      case 'eof':
        return this.endName
      case 'string':
        return `the string ${token.quote}${token.value}${token.quote}`
      case 'ident':
        return token.quoted ? `\`${token.text}\`` : `'${token.text}'`
      default:
        return `'${token.text}'`
    }
  }

  #scan(): Token {
    const src = this.#src
    let pos = this.#pos
    while (pos < src.length && isSpace(src.charCodeAt(pos))) pos++
    const start = pos
    if (pos >= src.length) {
      this.#pos = pos
      return { kind: 'eof', text: '', start }
    }
    const c = src.charCodeAt(pos)
    let token: Token
    if (isIdentStart(c)) {
      pos++
      while (pos < src.length && isIdentPart(src.charCodeAt(pos))) pos++
      token = { kind: 'ident', text: src.slice(start, pos), quoted: false, start }
    } else if (isDigit(c)) {
      pos = scanNumber(src, pos)
      const text = src.slice(start, pos)
      token = { kind: 'number', text, value: Number(text), start }
    } else if (c === 39 /* ' */ || c === 34 /* " */) {
      const quote = c === 39 ? "'" : '"'
      const { value, end } = scanQuoted(src, pos, quote, this.endName)
      pos = end
      token = { kind: 'string', text: src.slice(start, pos), value, quote, start }
    } else if (c === 96 /* ` */) {
      // A backticked name is an extension to the AWS dialect: it lets a rule
      // reach a field whose name is not a plain identifier (`my-key`).
      const end = src.indexOf('`', pos + 1)
      if (end < 0) throw unterminated('`', start, src.length, this.endName)
      token = { kind: 'ident', text: src.slice(pos + 1, end), quoted: true, start }
      pos = end + 1
    } else {
      const two = src.slice(pos, pos + 2)
      if (TWO_CHAR_OPS.has(two)) {
        token = { kind: 'op', text: two, start }
        pos += 2
      } else if (ONE_CHAR_OPS.includes(src[pos]!)) {
        token = { kind: 'op', text: src[pos]!, start }
        pos++
      } else {
        throw syntaxError('a name, a literal or an operator', `'${src[pos]}'`, start)
      }
    }
    this.#pos = pos
    return token
  }
}

/** Digits, then an optional fraction and exponent: `12`, `1.5`, `5E-12`. */
function scanNumber(src: string, pos: number): number {
  while (pos < src.length && isDigit(src.charCodeAt(pos))) pos++
  if (src[pos] === '.' && isDigit(src.charCodeAt(pos + 1))) {
    pos++
    while (pos < src.length && isDigit(src.charCodeAt(pos))) pos++
  }
  if (src[pos] === 'e' || src[pos] === 'E') {
    let p = pos + 1
    if (src[p] === '-' || src[p] === '+') p++
    if (isDigit(src.charCodeAt(p))) {
      pos = p
      while (pos < src.length && isDigit(src.charCodeAt(pos))) pos++
    }
  }
  return pos
}

/**
 * A quoted string. The quote is escaped by doubling it (`'it''s'`), as in
 * ANSI SQL; a backslash is an ordinary character, so a regular expression
 * such as `'\d+'` reads as written.
 */
function scanQuoted(src: string, pos: number, quote: string, endName: string): { value: string; end: number } {
  const start = pos
  let value = ''
  let from = pos + 1
  for (;;) {
    const close = src.indexOf(quote, from)
    if (close < 0) throw unterminated(quote, start, src.length, endName)
    value += src.slice(from, close)
    if (src[close + 1] === quote) {
      value += quote
      from = close + 2
      continue
    }
    return { value, end: close + 1 }
  }
}

function unterminated(quote: string, start: number, end: number, endName: string): SqlSyntaxError {
  return syntaxError(`a closing ${quote} for the text that opens at column ${start + 1}`, endName, end)
}

function isSpace(c: number): boolean {
  return c === 32 || c === 9 || c === 10 || c === 13
}

function isDigit(c: number): boolean {
  return c >= 48 && c <= 57
}

function isIdentStart(c: number): boolean {
  return (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95 /* _ */
}

function isIdentPart(c: number): boolean {
  return isIdentStart(c) || isDigit(c)
}
