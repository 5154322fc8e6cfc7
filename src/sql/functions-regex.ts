import type { CallSite, Eval, FunctionDef } from './function-def.js'
import type { SqlContext } from './context.js'
import { toText } from './values.js'

/*
 * regexp_matches(), regexp_replace() and regexp_substr(). AWS takes Java
 * regular expressions; JavaScript's agree on everything rules commonly use.
 * The differences handled here: Java's leading inline flags such as `(?i)`
 * become RegExp flags, and Java's replacement syntax (`\$` for a dollar,
 * `${name}` for a named group) becomes JavaScript's.
 *
 * A pattern written as a literal (the usual case) is compiled once when the
 * rule loads, and a bad one is a load error. A pattern computed per message
 * is compiled through a small cache, so a RegExp is built only for a
 * pattern not seen recently.
 */

const LEADING_FLAGS = /^\(\?([a-zA-Z]+)\)/
const CACHE_SIZE = 64

/** Compiles a Java-style pattern; throws a one-sentence Error when it cannot. */
export function javaRegExp(pattern: string, global: boolean): RegExp {
  let flags = global ? 'g' : ''
  let body = pattern
  const lead = LEADING_FLAGS.exec(pattern)
  if (lead) {
    for (const flag of lead[1]!) {
      if (!'ims'.includes(flag)) throw new Error(`the inline flag (?${flag}) is not supported`)
      if (!flags.includes(flag)) flags += flag
    }
    body = pattern.slice(lead[0].length)
  }
  try {
    return new RegExp(body, flags)
  } catch (err) {
    // V8 says "Invalid regular expression: /(/: Unterminated group"; keep the reason
    throw new Error((err as Error).message.replace(/^Invalid regular expression: \/.*\/[a-z]*: /s, ''), { cause: err })
  }
}

/** Turns a Java replacement string into a JavaScript one; undefined when Java would reject it. */
export function javaReplacement(replacement: string): string | undefined {
  if (!replacement.includes('$') && !replacement.includes('\\')) return replacement
  let out = ''
  for (let i = 0; i < replacement.length; i++) {
    const c = replacement[i]!
    if (c === '\\') {
      const next = replacement[++i]
      if (next === undefined) return undefined
      out += next === '$' ? '$$' : next
    } else if (c === '$') {
      const next = replacement[i + 1]
      if (next !== undefined && next >= '0' && next <= '9') {
        out += '$'
      } else if (next === '{') {
        const close = replacement.indexOf('}', i)
        if (close < 0) return undefined
        out += `$<${replacement.slice(i + 2, close)}>`
        i = close
      } else {
        return undefined
      }
    } else {
      out += c
    }
  }
  return out
}

/** The pattern argument: fixed at load time when it is a literal, cached otherwise. */
function patternOf(arg: Eval, site: CallSite, index: number, global: boolean): (doc: unknown, ctx: SqlContext) => RegExp | undefined {
  const node = site.nodes[index]!
  if (node.k === 'literal') {
    const source = toText(node.value)
    if (source === undefined) site.fail('a regular expression', 'null', index)
    let re: RegExp
    try {
      re = javaRegExp(source, global)
    } catch (err) {
      site.fail('a valid regular expression', `'${source}'`, index, (err as Error).message)
    }
    return () => re
  }
  const cache = new Map<string, RegExp | null>()
  return (doc, ctx) => {
    const source = toText(arg(doc, ctx))
    if (source === undefined) return undefined
    let re = cache.get(source)
    if (re === undefined) {
      try {
        re = javaRegExp(source, global)
      } catch {
        re = null
      }
      if (cache.size >= CACHE_SIZE) cache.clear()
      cache.set(source, re)
    }
    return re ?? undefined
  }
}

const regexpMatches: FunctionDef = {
  arity: [2, 2],
  pure: false,
  build([subject, pattern], site) {
    const re = patternOf(pattern!, site, 1, false)
    return (doc, ctx) => {
      const s = toText(subject!(doc, ctx))
      const r = re(doc, ctx)
      return s === undefined || r === undefined ? undefined : r.test(s)
    }
  },
}

/** regexp_substr(): the first match; the empty string when there is none. */
const regexpSubstr: FunctionDef = {
  arity: [2, 2],
  pure: false,
  build([subject, pattern], site) {
    const re = patternOf(pattern!, site, 1, false)
    return (doc, ctx) => {
      const s = toText(subject!(doc, ctx))
      const r = re(doc, ctx)
      if (s === undefined || r === undefined) return undefined
      return r.exec(s)?.[0] ?? ''
    }
  },
}

const regexpReplace: FunctionDef = {
  arity: [3, 3],
  pure: false,
  build([subject, pattern, replacement], site) {
    const re = patternOf(pattern!, site, 1, true)
    const node = site.nodes[2]!
    let fixed: string | undefined
    if (node.k === 'literal') {
      const text = toText(node.value)
      fixed = text === undefined ? undefined : javaReplacement(text)
      if (fixed === undefined) site.fail('a valid replacement (use $1 for a group and \\$ for a dollar sign)', JSON.stringify(node.value), 2)
    }
    return (doc, ctx) => {
      const s = toText(subject!(doc, ctx))
      const r = re(doc, ctx)
      if (s === undefined || r === undefined) return undefined
      const text = fixed ?? toText(replacement!(doc, ctx))
      const by = fixed ?? (text === undefined ? undefined : javaReplacement(text))
      return by === undefined ? undefined : s.replace(r, by)
    }
  },
}

export const REGEX_FUNCTIONS: Record<string, FunctionDef> = {
  regexp_matches: regexpMatches,
  regexp_substr: regexpSubstr,
  regexp_replace: regexpReplace,
}
