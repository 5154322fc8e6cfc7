import { pure1, pure2, pure2or3, pure3, type FunctionDef } from './function-def.js'
import { toFlooredInt, toText } from './values.js'

/*
 * String functions (developerguide/iot-sql-functions.md). Arguments that
 * are not strings go through the standard string conversion; Null and
 * Undefined have none, so they make the result Undefined.
 */

function text1(fn: (s: string) => unknown): FunctionDef {
  return pure1((a) => {
    const s = toText(a)
    return s === undefined ? undefined : fn(s)
  })
}

function text2(fn: (s: string, t: string) => unknown): FunctionDef {
  return pure2((a, b) => {
    const s = toText(a)
    const t = toText(b)
    return s === undefined || t === undefined ? undefined : fn(s, t)
  })
}

/** Characters as the docs count them: Unicode code points, not UTF-16 units. */
function codePoints(s: string): number {
  let n = 0
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    // a high surrogate followed by a low one is a single character
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1)
      if (d >= 0xdc00 && d <= 0xdfff) i++
    }
    n++
  }
  return n
}

/** ltrim() and rtrim() remove "tabs and spaces", per their reference. */
function isBlank(c: number): boolean {
  return c === 32 || c === 9
}

function ltrim(s: string): string {
  let i = 0
  while (i < s.length && isBlank(s.charCodeAt(i))) i++
  return i === 0 ? s : s.slice(i)
}

function rtrim(s: string): string {
  let i = s.length
  while (i > 0 && isBlank(s.charCodeAt(i - 1))) i--
  return i === s.length ? s : s.slice(0, i)
}

/**
 * lpad() and rpad(): the count is rounded down and held to 0..1000; a count
 * that is not a number or a numeric string makes the result Undefined.
 */
function pad(left: boolean): FunctionDef {
  return pure2((a, b) => {
    const s = toText(a)
    const n = typeof b === 'number' || typeof b === 'string' ? toFlooredInt(b) : undefined
    if (s === undefined || n === undefined) return undefined
    const spaces = ' '.repeat(Math.min(1000, Math.max(0, n)))
    return left ? spaces + s : s + spaces
  })
}

/**
 * substring(s, from[, to]): 0-based, `to` exclusive; indexes are rounded
 * down and held to 0..length, and from >= to gives the empty string.
 */
function substring(a: unknown, b: unknown, c: unknown, count: number): string | undefined {
  const s = toText(a)
  const from = toFlooredInt(b)
  if (s === undefined || from === undefined) return undefined
  const start = Math.min(s.length, Math.max(0, from))
  if (count === 2) return s.slice(start)
  const to = toFlooredInt(c)
  if (to === undefined) return undefined
  const end = Math.min(s.length, Math.max(0, to))
  return start >= end ? '' : s.slice(start, end)
}

/** chr(): the ASCII character of a code; anything outside 0..127 is Undefined. */
function chr(a: unknown): string | undefined {
  const n = toFlooredInt(a)
  return n === undefined || n < 0 || n > 127 ? undefined : String.fromCharCode(n)
}

/** replace(): every occurrence, literally (a function replacer keeps `$` in `b` literal). */
function replace(a: unknown, b: unknown, c: unknown): string | undefined {
  const s = toText(a)
  const find = toText(b)
  const by = toText(c)
  if (s === undefined || find === undefined || by === undefined) return undefined
  return s.replaceAll(find, () => by)
}

/**
 * concat(): no arguments is Undefined, one is returned as it is; with more,
 * any Array makes an Array of all the arguments (arrays spread into it),
 * otherwise the string forms of all the arguments joined. An argument
 * without a string form (Null, Undefined) makes the result Undefined.
 */
export function concatValues(values: readonly unknown[]): unknown {
  if (values.length === 0) return undefined
  if (values.length === 1) return values[0]
  let arrays = false
  for (const v of values) {
    if (v === undefined) return undefined
    if (Array.isArray(v)) arrays = true
  }
  if (arrays) {
    const out: unknown[] = []
    for (const v of values) {
      if (Array.isArray(v)) out.push(...(v as unknown[]))
      else out.push(v)
    }
    return out
  }
  let out = ''
  for (const v of values) {
    const s = toText(v)
    if (s === undefined) return undefined
    out += s
  }
  return out
}

const concat: FunctionDef = {
  arity: [0, Infinity],
  pure: true,
  build(args) {
    if (args.length === 0) return () => undefined
    if (args.length === 1) return args[0]!
    const [a, b] = args
    if (args.length === 2) {
      // the common case without an array per message
      return (doc, ctx) => {
        const x = a!(doc, ctx)
        const y = b!(doc, ctx)
        if (Array.isArray(x) || Array.isArray(y)) return concatValues([x, y])
        const s = toText(x)
        const t = toText(y)
        return s === undefined || t === undefined ? undefined : s + t
      }
    }
    return (doc, ctx) => concatValues(args.map((arg) => arg(doc, ctx)))
  },
}

export const STRING_FUNCTIONS: Record<string, FunctionDef> = {
  concat,
  lower: text1((s) => s.toLowerCase()),
  upper: text1((s) => s.toUpperCase()),
  length: text1(codePoints),
  numbytes: text1((s) => Buffer.byteLength(s, 'utf8')),
  trim: text1((s) => s.trim()),
  ltrim: text1(ltrim),
  rtrim: text1(rtrim),
  startswith: text2((s, t) => s.startsWith(t)),
  endswith: text2((s, t) => s.endsWith(t)),
  indexof: text2((s, t) => s.indexOf(t)),
  replace: pure3(replace),
  substring: pure2or3(substring),
  lpad: pad(true),
  rpad: pad(false),
  chr: pure1(chr),
}
