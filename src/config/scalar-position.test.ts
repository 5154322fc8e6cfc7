import { describe, expect, it } from 'vitest'
import { isScalar, LineCounter, parseDocument } from 'yaml'
import { offsetInScalar } from './scalar-position.js'

/** Line and column (1-based) of character `index` of the value of `sql:` in `text`, or undefined. */
function place(text: string, index: number): [number, number] | undefined {
  const lines = new LineCounter()
  const doc = parseDocument(text, { lineCounter: lines })
  const node = doc.get('sql', true)
  if (!isScalar(node)) throw new Error('no sql scalar')
  const offset = offsetInScalar(text, node, index)
  if (offset === undefined) return undefined
  const { line, col } = lines.linePos(offset)
  return [line, col]
}

describe('offsetInScalar', () => {
  it.each([
    ['a plain scalar', "sql: SELECT * FORM 'x'\n", 9, [1, 15]],
    ['a single-quoted scalar', "sql: 'SELECT * FORM x'\n", 9, [1, 16]],
    ['a double-quoted scalar', 'sql: "SELECT * FORM x"\n', 9, [1, 16]],
    ['a plain scalar folded over lines', 'sql: SELECT *\n  FROM x\n  WHERE = 1\n', 22, [3, 9]],
    ['a folded block', 'sql: >-\n  SELECT *\n  FROM x WHERE = 1\n', 22, [3, 16]],
    ['a literal block', 'sql: |\n    SELECT *\n    FROM x\n', 9, [3, 5]],
    ['the end of the value', 'sql: SELECT *\n', 8, [1, 14]],
  ] as const)('maps a character of %s', (_what, text, index, expected) => {
    expect(place(text, index)).toEqual(expected)
  })

  it.each([
    ['escapes', 'sql: "SELECT \\"a\\" FORM x"\n'],
    ["doubled single quotes", "sql: 'SELECT ''a'' FORM x'\n"],
    ['more-indented lines in a folded block', 'sql: >\n  SELECT *\n    FROM x\n'],
  ])('gives up on %s', (_what, text) => {
    expect(place(text, 12)).toBeUndefined()
  })
})
