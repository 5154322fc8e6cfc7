import { createHash } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { compileSql, type SqlContext } from './index.js'

// Expected values come from the examples and argument tables of the AWS IoT
// SQL function reference (developerguide/iot-sql-functions.md).
const PAYLOAD = { n: 5, d: -1.5, s: 'Hello', num: '-5.123', t: true, nul: null, arr: [1, 2, 3], obj: { a: 'b' }, enc: 'eyAidGVtcGVyYXR1cmUiOiAzMyB9Cg==' }

function message(overrides: Partial<SqlContext> = {}, payload: unknown = PAYLOAD): SqlContext {
  return {
    payload: Buffer.from(typeof payload === 'string' ? payload : JSON.stringify(payload)),
    topic: 'things/thing-1/data',
    clientId: 'device-7',
    timestamp: 1700000000789,
    ...overrides,
  }
}

function value(expr: string, ctx: SqlContext = message()): unknown {
  return compileSql(`SELECT VALUE (${expr}) FROM 't'`).run(ctx).output
}

function table(rows: Array<[string, unknown]>): void {
  it.each(rows)('%s', (expr, expected) => {
    expect(value(expr)).toStrictEqual(expected)
  })
}

describe('numeric functions', () => {
  table([
    ['abs(-5)', 5],
    ['abs(d)', 1.5],
    ['abs(num)', 5.123],
    ['abs(t)', undefined],
    ['abs(nul)', undefined],
    ['abs(missing)', undefined],
    ['abs(arr)', undefined],
    ['ceil(1.2)', 2],
    ['ceil(-1.2)', -1],
    ["ceil('1.2')", 2],
    ['ceil(-0.5)', 0],
    ['ceil(s)', undefined],
    ['floor(1.2)', 1],
    ['floor(-1.2)', -2],
    ['floor(t)', undefined],
    ['round(1.2)', 1],
    ['round(1.5)', 2],
    ['round(1.7)', 2],
    ['round(-1.1)', -1],
    ['round(-1.5)', -2],
    ['round(7)', 7],
    ["round('2.5')", 3],
    ['round(obj)', undefined],
    ['sign(-7)', -1],
    ['sign(0)', 0],
    ['sign(13)', 1],
    ["sign('-0.5')", -1],
    ['sign(nul)', undefined],
    ['sqrt(9)', 3],
    ['sqrt(-1)', undefined],
    ['power(2, 5)', 32],
    ["power('2', 0.5)", Math.SQRT2],
    ['power(2, s)', undefined],
    ['exp(0)', 1],
    ['ln(1)', 0],
    ['ln(0)', undefined],
    ['log(100)', 2],
    ['mod(8, 3)', 2],
    ['mod(-8, 3)', -2],
    ['mod(8, 0)', undefined],
    ['remainder(8, 3)', 2],
    ['trunc(2.3, 0)', 2],
    ['trunc(2.3123, 2)', 2.31],
    ['trunc(2.888, 2)', 2.88],
    ['trunc(1.005, 2)', 1],
    ['trunc(-2.888, 1)', -2.8],
    ['trunc(2.00, 5)', 2],
    ["trunc('2.345', 1)", 2.3],
    ['trunc(s, 1)', undefined],
    ['sin(0)', 0],
    ['cos(0)', 1],
    ['tan(0)', 0],
    ['asin(0)', 0],
    ['acos(0)', Math.PI / 2],
    ['acos(2)', undefined],
    ['atan(0)', 0],
    ['atan2(1, 0)', Math.PI / 2],
    ['sinh(2.3)', Math.sinh(2.3)],
    ['cosh(2.3)', Math.cosh(2.3)],
    ['tanh(2.3)', Math.tanh(2.3)],
    ['bitand(13, 5)', 5],
    ['bitor(8, 5)', 13],
    ['bitxor(13, 5)', 8],
    ['bitand(13.9, 5.2)', 5],
    ["bitor('8', 5)", 13],
    ['bitnot(13)', -14],
    ['bitand(13, s)', undefined],
  ])
})

describe('string functions', () => {
  table([
    ["concat()", undefined],
    ['concat(1)', 1],
    ["concat('con', 'cat')", 'concat'],
    ["concat(1, 'hello')", '1hello'],
    ["concat('he', 'is', 'man')", 'heisman'],
    ['concat(n, s)', '5Hello'],
    ['concat([1, 2, 3], 4)', [1, 2, 3, 4]],
    ["concat([1, 2, 3], 'hello')", [1, 2, 3, 'hello']],
    ["concat([1, 2, 3], 'hello', [4, 5, 6])", [1, 2, 3, 'hello', 4, 5, 6]],
    ["concat(s, nul)", undefined],
    ["concat(s, missing)", undefined],
    ["lower('HELLO')", 'hello'],
    ["lower(['HELLO'])", '["hello"]'],
    ['lower(nul)', undefined],
    ["upper('hello')", 'HELLO'],
    ['upper(t)', 'TRUE'],
    ['upper(missing)', undefined],
    ["length('hi')", 2],
    ['length(false)', 5],
    ["length('€😀')", 2],
    ['length(nul)', undefined],
    ["numbytes('hi')", 2],
    ["numbytes('€')", 3],
    ["trim(' hi ')", 'hi'],
    ["ltrim(' h i ')", 'h i '],
    ["rtrim(' h i ')", ' h i'],
    ['trim(12)', '12'],
    ['trim(nul)', undefined],
    ["startswith('ranger', 'ran')", true],
    ["startswith('ranger', 'ger')", false],
    ["startswith(123, 1)", true],
    ["startswith(nul, 'a')", undefined],
    ["endswith('cat', 'at')", true],
    ["endswith('cat', missing)", undefined],
    ["indexof('abcd', 'bc')", 1],
    ["indexof('abcd', 'x')", -1],
    ["replace('abcd', 'bc', 'x')", 'axd'],
    ["replace('abcdabcd', 'b', 'x')", 'axcdaxcd'],
    ["replace('a.b', '.', '$&')", 'a$&b'],
    ["replace(nul, 'a', 'b')", undefined],
    ["substring('012345', 0)", '012345'],
    ["substring('012345', 2)", '2345'],
    ["substring('012345', 2.745)", '2345'],
    ['substring(123, 2)', '3'],
    ["substring('012345', -1)", '012345'],
    ['substring(true, 1.2)', 'rue'],
    ['substring(false, -2.411E247)', 'false'],
    ["substring('012345', 1, 3)", '12'],
    ["substring('012345', -50, 50)", '012345'],
    ["substring('012345', 3, 1)", ''],
    ["substring('012345', s)", undefined],
    ["lpad('hello', 2)", '  hello'],
    ['lpad(1, 3)', '   1'],
    ["lpad('a', '2')", '  a'],
    ["lpad('a', -3)", 'a'],
    ["lpad('a', t)", undefined],
    ["rpad('hello', 2)", 'hello  '],
    ['rpad(1, 3)', '1   '],
    ["length(rpad('a', 5000))", 1001],
    ['chr(65)', 'A'],
    ['chr(49)', '1'],
    ["chr('65.7')", 'A'],
    ['chr(300)', undefined],
    ['chr(s)', undefined],
  ])
})

describe('regular expressions', () => {
  table([
    ["regexp_matches('aaaa', 'a{2,}')", true],
    ["regexp_matches('aaaa', 'b')", false],
    ["regexp_matches('ABC', '(?i)abc')", true],
    ["regexp_matches(1234, '^\\d+$')", true],
    ["regexp_matches(nul, 'a')", undefined],
    ["regexp_replace('abcd', 'bc', 'x')", 'axd'],
    ["regexp_replace('abcd', 'b(.*)d', '$1')", 'ac'],
    ["regexp_replace('aXbXc', 'X', '-')", 'a-b-c'],
    ["regexp_replace('a1', '\\d', '\\$')", 'a$'],
    ["regexp_substr('hihihello', 'hi')", 'hi'],
    ["regexp_substr('hihihello', '(hi)*')", 'hihi'],
    ["regexp_substr('hello', 'x')", ''],
  ])

  it('takes a pattern computed per message, and a bad one is Undefined', () => {
    const q = compileSql("SELECT regexp_matches(s, p) AS m FROM 't'")
    const run = (payload: unknown) => q.run(message({}, payload)).output
    expect(run({ s: 'abc', p: '^a' })).toEqual({ m: true })
    expect(run({ s: 'abc', p: '^b' })).toEqual({ m: false })
    expect(run({ s: 'abc', p: '(' })).toEqual({})
  })
})

describe('message functions', () => {
  it('clientid(), principal(), timestamp(), topic() and topic(n)', () => {
    const ctx = message({ principal: 'alice' })
    expect(value('clientid()', ctx)).toBe('device-7')
    expect(value('principal()', ctx)).toBe('alice')
    expect(value('timestamp()', ctx)).toBe(1700000000789)
    expect(value('topic()', ctx)).toBe('things/thing-1/data')
    expect(value('topic(1)', ctx)).toBe('things')
    expect(value('topic(2)', ctx)).toBe('thing-1')
    expect(value('topic(3)', ctx)).toBe('data')
    expect(value('topic(4)', ctx)).toBeUndefined()
    expect(value('topic(0)', ctx)).toBeUndefined()
    expect(value("topic('2')", ctx)).toBe('thing-1')
    expect(value('topic(n - 3)', ctx)).toBe('thing-1')
  })

  it('principal() falls back to the client id; clientid() is n/a without a client', () => {
    expect(value('principal()', message())).toBe('device-7')
    expect(value('clientid()', message({ clientId: undefined }))).toBe('n/a')
    expect(value('principal()', message({ clientId: undefined }))).toBeUndefined()
  })

  it('topic(n) finds empty levels and $events topics', () => {
    const ctx = message({ topic: '$events/presence/connected/dev-1' })
    expect(value('topic(1)', ctx)).toBe('$events')
    expect(value('topic(4)', ctx)).toBe('dev-1')
    expect(value('topic(2)', message({ topic: 'a//c' }))).toBe('')
  })

  it('newuuid() is a fresh UUID on every call; rand() is in [0, 1)', () => {
    const a = value('newuuid()') as string
    expect(a).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/)
    expect(value('newuuid()')).not.toBe(a)
    const r = value('rand()') as number
    expect(r).toBeGreaterThanOrEqual(0)
    expect(r).toBeLessThan(1)
    expect(value('sql_version()')).toBe('2016-03-23')
  })
})

describe('Null, Undefined and collections', () => {
  table([
    ['isNull(5)', false],
    ['isNull(Null)', true],
    ['isNull(nul)', true],
    ['isNull(missing)', false],
    ['isUndefined(5)', false],
    ['isUndefined(floor([1,2,3]))', true],
    ['isUndefined(missing)', true],
    ['isUndefined(nul)', false],
    ['nanvl(8, 3)', 8],
    ['nanvl(missing, 3)', 3],
    ['nanvl(nul, 3)', 3],
    ["nanvl(s, 3)", 'Hello'],
    ['get_or_default(missing, 0)', 0],
    ['get_or_default(nul, 0)', 0],
    ['get_or_default(n, 0)', 5],
    ["get(['a', 'b', 'c'], 1)", 'b'],
    ["get(arr, '2')", 3],
    ['get(arr, 3)', undefined],
    ['get(arr, -1)', undefined],
    ["get({'a': 'b'}, 'a')", 'b'],
    ["get(obj, 'a')", 'b'],
    ['get(obj, 1)', undefined],
    ["get('abc', 1)", 'b'],
    ['get(n, 0)', undefined],
    ["get(obj, 'constructor')", undefined],
  ])
})

describe('encode() and decode()', () => {
  it("encode(*, 'base64') encodes the raw payload, JSON or not", () => {
    const raw = Buffer.from([0xde, 0xad, 0xbe, 0xef])
    expect(value("encode(*, 'base64')", message({ payload: raw }))).toBe(raw.toString('base64'))
    const json = message()
    expect(value("encode(*, 'base64')", json)).toBe(Buffer.from(json.payload).toString('base64'))
  })

  table([
    ["encode('hi', 'base64')", 'aGk='],
    ["encode(12, 'base64')", 'MTI='],
    ["encode(nul, 'base64')", undefined],
    ["decode('aGk=', 'base64')", 'hi'],
    ["decode(enc, 'base64').temperature", 33],
    ["decode('ODA=', 'base64') > 50", true],
    ["decode('not base64!', 'base64')", null],
    ["decode(12, 'base64')", undefined],
  ])
})

describe('hashes', () => {
  it.each(['md5', 'sha1', 'sha224', 'sha256', 'sha384', 'sha512'])('%s() hashes the UTF-8 string as hex', (name) => {
    expect(value(`${name}('hello')`)).toBe(createHash(name).update('hello').digest('hex'))
    expect(value(`${name}(nul)`)).toBeUndefined()
  })

  it('md5 matches the AWS example', () => {
    expect(value("md5('hello')")).toBe('5d41402abc4b2a76b9719d911017c592')
  })
})

describe('cast()', () => {
  table([
    ['cast(true AS Int)', 1],
    ['cast(false AS Integer)', 0],
    ["cast('5.9' AS Int)", 5],
    ['cast(-1.5 AS Int)', -2],
    ["cast(s AS Int)", undefined],
    ['cast(arr AS Int)', undefined],
    ['cast(true AS Decimal)', 1],
    ["cast('5E-1' AS Double)", 0.5],
    ['cast(nul AS Decimal)', undefined],
    ['cast(0 AS Boolean)', false],
    ['cast(2.5 AS Bool)', true],
    ["cast('TRUE' AS Boolean)", true],
    ["cast('yes' AS Boolean)", undefined],
    ['cast(12 AS String)', '12'],
    ['cast(true AS Varchar)', 'true'],
    ["cast(arr AS Text)", '[1,2,3]'],
    ["cast(obj AS Nvarchar)", '{"a":"b"}'],
    ['cast(nul AS String)', undefined],
    ['cast(missing AS Ntext)', undefined],
  ])
})

describe('function names', () => {
  it('ignore case', () => {
    const ctx = message()
    for (const name of ['clientid', 'clientId', 'CLIENTID', 'ClientId']) expect(value(`${name}()`, ctx)).toBe('device-7')
    expect(value("UPPER(Lower('AbC'))")).toBe('ABC')
    expect(value('isundefined(missing) AND ISNULL(nul)')).toBe(true)
    expect(value("CAST('1' as INT)")).toBe(1)
  })

  it('are not confused with fields of the same name', () => {
    const ctx = message({}, { timestamp: 5, clientId: 'from-payload' })
    expect(value('timestamp', ctx)).toBe(5)
    expect(value('clientId', ctx)).toBe('from-payload')
    expect(value('timestamp()', ctx)).toBe(1700000000789)
  })
})
