import { describe, expect, it } from 'vitest'
import { compileSql, type SqlContext } from './index.js'

// Every row is checked against the operator tables of the AWS IoT SQL
// reference (developerguide/iot-sql-operators.md). `missing` is a field the
// payload does not have: Undefined.
const PAYLOAD = { n: 5, d: 2.5, s: 'abc', num: '12', t: true, nul: null, arr: [1, 2, 3], obj: { a: 1 } }

function message(payload: unknown = PAYLOAD): SqlContext {
  return { payload: Buffer.from(JSON.stringify(payload)), topic: 't', clientId: 'c', timestamp: 0 }
}

/** The value of one expression against PAYLOAD. */
function value(expr: string): unknown {
  return compileSql(`SELECT VALUE (${expr}) FROM 't'`).run(message()).output
}

function table(rows: Array<[string, unknown]>): void {
  it.each(rows)('%s', (expr, expected) => {
    expect(value(expr)).toStrictEqual(expected)
  })
}

describe('AND', () => {
  table([
    ['true AND true', true],
    ['true AND false', false],
    ["'TRUE' AND 'true'", true],
    ["'true' AND 'False'", false],
    ['t AND true', true],
    ['true AND 1', undefined],
    ['true AND missing', undefined],
    ['false AND missing', undefined],
    ['nul AND true', undefined],
    ["true AND 'yes'", undefined],
  ])
})

describe('OR', () => {
  table([
    ['false OR true', true],
    ['false OR false', false],
    ["'false' OR 'FALSE'", false],
    ["'false' OR true", true],
    ['false OR 0', undefined],
    ['true OR missing', undefined],
    ['nul OR true', undefined],
  ])
})

describe('NOT', () => {
  table([
    ['NOT true', false],
    ['NOT false', true],
    ["NOT 'FALSE'", true],
    ["NOT 'true'", false],
    ['NOT 1', undefined],
    ['NOT missing', undefined],
    ['NOT nul', undefined],
    ['NOT NOT true', true],
  ])
})

describe('=', () => {
  table([
    ['1 = 1', true],
    ['1 = 1.0', true],
    ['d = 2.5', true],
    ["s = 'abc'", true],
    ["s = 'abd'", false],
    ["'5' = 5", false],
    ["true = 'true'", false],
    ['t = true', true],
    ['arr = [1, 2, 3]', true],
    ['arr = [3, 2, 1]', false],
    ['arr = [1, 2]', false],
    ["obj = {'a': 1}", true],
    ["{'a': 1, 'b': [1]} = {'b': [1], 'a': 1}", true],
    ["obj = {'a': 2}", false],
    ['nul = null', true],
    ['nul = 0', false],
    ['missing = 1', undefined],
    ['1 = missing', undefined],
    ['missing = missing', undefined],
  ])
})

describe('<> and !=', () => {
  table([
    ['1 <> 2', true],
    ['1 <> 1.0', false],
    ["s <> 'abc'", false],
    ["'5' <> 5", true],
    ['nul <> null', false],
    ['arr <> [1, 2, 3]', false],
    ["obj <> {'a': 2}", true],
    ['missing <> 1', undefined],
    ['1 != 2', true],
    ['1 != missing', undefined],
  ])
})

describe('< <= > >=', () => {
  table([
    ['1 < 2', true],
    ['2 < 1', false],
    ['2 <= 2', true],
    ['3 > 2.5', true],
    ['2.5 >= 2.5', true],
    ["num > 9", true],
    ["'1.5' <= 1.5", true],
    ["'5E-1' < 1", true],
    ["'abc' < 'abd'", undefined],
    ['true > false', undefined],
    ['nul < 1', undefined],
    ['missing >= 1', undefined],
    ['arr > 1', undefined],
  ])
})

describe('+', () => {
  table([
    ['1 + 2', 3],
    ['1.5 + 1', 2.5],
    ["'a' + 'b'", 'ab'],
    ["s + 1", 'abc1'],
    ["1 + s", '1abc'],
    ["num + 1", '121'],
    ["'a' + true", 'atrue'],
    ["'a' + arr", 'a[1,2,3]'],
    ["'a' + obj", 'a{"a":1}'],
    ["'a' + 1 + 2", 'a12'],
    ["'a' + nul", undefined],
    ["'a' + missing", undefined],
    ['1 + true', undefined],
    ['1 + nul', undefined],
    ['arr + arr', undefined],
  ])
})

describe('-', () => {
  table([
    ['5 - 3', 2],
    ['5 - 0.5', 4.5],
    ["num - 2", 10],
    ["'1.5' - '0.5'", 1],
    ["s - 1", undefined],
    ['1 - nul', undefined],
    ['missing - 1', undefined],
    ['true - 1', undefined],
    ['10 - 2 - 3', 5],
  ])
})

describe('*', () => {
  table([
    ['3 * 4', 12],
    ['1.5 * 2', 3],
    ["'2' * '3'", 6],
    ['true * 2', undefined],
    ['nul * 2', undefined],
    ['missing * 2', undefined],
  ])
})

describe('/', () => {
  table([
    ['6 / 3', 2],
    // Int / Int is an Int: the quotient truncated
    ['7 / 2', 3],
    ['-7 / 2', -3],
    ['7.5 / 2', 3.75],
    ['7 / 2.5', 2.8],
    // a string converts to a Decimal, and the result is a Decimal
    ["'7' / 2", 3.5],
    ['1 / 0', undefined],
    ['1.5 / 0', undefined],
    ['0 / 0', undefined],
    ['1 / missing', undefined],
    ['nul / 1', undefined],
    ["s / 1", undefined],
    ['12 / 2 / 3', 2],
  ])
})

describe('%', () => {
  table([
    ['8 % 3', 2],
    ['-8 % 3', -2],
    ['8.5 % 3', 2.5],
    ["'8' % 3", 2],
    ['8 % 0', undefined],
    ["'x' % 2", undefined],
    ['missing % 2', undefined],
  ])
})

describe('unary minus', () => {
  table([
    ['-n', -5],
    ['-d', -2.5],
    ['- -3', 3],
    ["-num", -12],
    ['-s', undefined],
    ['-nul', undefined],
    ['-missing', undefined],
  ])
})

describe('precedence and grouping', () => {
  table([
    ['1 + 2 * 3', 7],
    ['(1 + 2) * 3', 9],
    ['-2 * 3', -6],
    ['2 + 3 > 4', true],
    ['NOT 1 = 2', true],
    ['true OR false AND false', true],
    ['(true OR false) AND false', false],
    ['NOT true AND false', false],
    ['NOT (true AND false)', true],
    ['n > 1 AND n < 10 OR false', true],
  ])
})

describe('keywords', () => {
  it('are read in any case', () => {
    const q = compileSql("select value (1 = 1 and not false or FALSE) from 't' where TRUE")
    expect(q.run(message()).output).toBe(true)
  })
})
