import { describe, expect, it } from 'vitest'
import { compileSql, type SqlContext } from './index.js'

function message(payload: unknown, overrides: Partial<SqlContext> = {}): SqlContext {
  return {
    payload: Buffer.isBuffer(payload) ? payload : Buffer.from(typeof payload === 'string' ? payload : JSON.stringify(payload)),
    topic: 'chat/pub/lobby',
    clientId: 'alice-1',
    timestamp: 1700000000789,
    ...overrides,
  }
}

function output(sql: string, payload: unknown, overrides: Partial<SqlContext> = {}): unknown {
  return compileSql(sql).run(message(payload, overrides)).output
}

describe('the AWS IoT web chat rules, exactly as written', () => {
  const chatPub = compileSql(
    "SELECT *, clientId() AS clientId, timestamp() AS timestamp FROM 'chat/out' WHERE NOT isUndefined(message) AND NOT isUndefined(room)",
  )
  const chatStore = compileSql(
    "SELECT *, concat(timestamp, clientId) AS timestamp_clientId, round(timestamp / 1000) + 86400 AS ttl FROM 'chat/pub/#'",
  )

  it('chatPub adds the client id and the time to a message with a room and a text', () => {
    expect(chatPub.from).toBe('chat/out')
    const result = chatPub.run(message({ room: 'lobby', message: 'hello', name: 'Alice' }, { topic: 'chat/out' }))
    expect(result).toEqual({
      passed: true,
      where: true,
      output: { room: 'lobby', message: 'hello', name: 'Alice', clientId: 'alice-1', timestamp: 1700000000789 },
    })
  })

  it('chatPub overrides a clientId or timestamp the sender put in the payload', () => {
    const result = chatPub.run(message({ room: 'r', message: 'm', clientId: 'mallory', timestamp: 1 }, { topic: 'chat/out' }))
    expect(result.output).toEqual({ room: 'r', message: 'm', clientId: 'alice-1', timestamp: 1700000000789 })
  })

  it('chatPub filters out a message without a room or a text', () => {
    expect(chatPub.run(message({ room: 'lobby' }))).toEqual({ passed: false, where: false, output: undefined })
    expect(chatPub.run(message({ message: 'hi' })).passed).toBe(false)
    expect(chatPub.run(message('not json')).passed).toBe(false)
  })

  it('chatStore derives a sort key and a TTL from what chatPub published', () => {
    const published = { room: 'lobby', message: 'hello', clientId: 'alice-1', timestamp: 1700000000789 }
    expect(chatStore.from).toBe('chat/pub/#')
    const result = chatStore.run(message(published))
    expect(result).toEqual({
      passed: true,
      where: undefined,
      output: {
        ...published,
        timestamp_clientId: '1700000000789alice-1',
        // timestamp / 1000 is Int / Int, an Int: 1700000000
        ttl: 1700000000 + 86400,
      },
    })
  })

  it('chatStore leaves out what it cannot compute', () => {
    expect(chatStore.run(message({ room: 'lobby' })).output).toEqual({ room: 'lobby' })
  })
})

describe('SELECT', () => {
  const payload = { color: { red: 255, green: 0 }, temperature: 50, list: [{ v: 1 }, { v: [10, 20] }], 'my-key': 'x' }

  it('* is the payload itself', () => {
    const ctx = message(payload)
    expect(compileSql("SELECT * FROM 't'").run(ctx).output).toEqual(payload)
  })

  it('* with more columns merges them in; Undefined columns are left out', () => {
    expect(output("SELECT *, 15 AS speed, nothing AS gone FROM 't'", { color: 'red' })).toEqual({ color: 'red', speed: 15 })
  })

  it('a column written before * is overwritten by the payload, in the order written', () => {
    expect(output("SELECT 1 AS temperature, * FROM 't'", payload)).toEqual(payload)
    expect(output("SELECT 1 AS a, *, 2 AS b FROM 't'", { a: 'p', c: 3 })).toEqual({ a: 'p', c: 3, b: 2 })
  })

  it('names columns by field, alias, or position', () => {
    expect(output("SELECT temperature, color.red, upper('x'), 1 + 1 FROM 't'", payload)).toEqual({ temperature: 50, red: 255, upper: 'X', _4: 2 })
    expect(output("SELECT color AS my_color, temperature AS fahrenheit FROM 't'", { color: 'red', temperature: 50 })).toEqual({
      my_color: 'red',
      fahrenheit: 50,
    })
  })

  it('AS a.b nests the value, without touching the payload', () => {
    const ctx = message(payload)
    const out = compileSql("SELECT *, 1 AS color.blue FROM 't'").run(ctx).output
    expect(out).toEqual({ ...payload, color: { red: 255, green: 0, blue: 1 } })
    expect(ctx.parsed).toEqual(payload)
  })

  it('reads nested paths: a.b, a[0], a.b[1].c, get()', () => {
    expect(output("SELECT VALUE list[1].v[0] FROM 't'", payload)).toBe(10)
    expect(output("SELECT VALUE list[0] FROM 't'", payload)).toEqual({ v: 1 })
    expect(output("SELECT VALUE color['green'] FROM 't'", payload)).toBe(0)
    expect(output("SELECT VALUE get(*, 'my-key') FROM 't'", payload)).toBe('x')
    expect(output("SELECT VALUE list[5].v FROM 't'", payload)).toBeUndefined()
    expect(output("SELECT VALUE temperature.deep.deeper FROM 't'", payload)).toBeUndefined()
  })

  it('reads a backticked name (an extension) and not Object.prototype', () => {
    expect(output("SELECT `my-key` AS k, `select` FROM 't'", { 'my-key': 1, select: 2 })).toEqual({ k: 1, select: 2 })
    expect(output("SELECT constructor, toString, __proto__ AS p FROM 't'", {})).toEqual({})
  })

  it('keeps a payload key named __proto__ a key, never a prototype', () => {
    const raw = '{"__proto__": {"polluted": true}, "a": 1}'
    for (const sql of ["SELECT *, 2 AS b FROM 't'", "SELECT 2 AS b, * FROM 't'", "SELECT *, 3 AS c.d FROM 't'"]) {
      const out = output(sql, raw) as Record<string, unknown>
      expect(Object.getPrototypeOf(out)).toBe(Object.prototype)
      expect(JSON.parse(JSON.stringify(out))).toMatchObject({ a: 1, ['__proto__']: { polluted: true } })
    }
  })

  it('SELECT VALUE outputs any value, arrays too', () => {
    expect(output("SELECT VALUE color FROM 't'", { color: 'red' })).toBe('red')
    expect(output("SELECT VALUE arr FROM 't'", { arr: [1, 2, 3, 4] })).toEqual([1, 2, 3, 4])
    expect(output("SELECT VALUE missing FROM 't'", {})).toBeUndefined()
  })

  it('a field named value is still a field', () => {
    expect(output("SELECT value FROM 't'", { value: 7 })).toEqual({ value: 7 })
    expect(output("SELECT value, value * 2 AS twice FROM 't'", { value: 7 })).toEqual({ value: 7, twice: 14 })
  })

  it('builds object and array literals', () => {
    expect(output("SELECT {'latitude': get(lat_long, 0), 'longitude': get(lat_long, 1)} AS lat_long FROM 't'", { lat_long: [47.606, -122.332] })).toEqual({
      lat_long: { latitude: 47.606, longitude: -122.332 },
    })
    expect(output("SELECT [lat, long] AS lat_long FROM 't'", { lat: 47.696, long: -122.332 })).toEqual({ lat_long: [47.696, -122.332] })
    expect(output("SELECT {'a': missing, 'b': null} AS o, [] AS e, {} AS eo FROM 't'", {})).toEqual({ o: { b: null }, e: [], eo: {} })
  })

  it('reads literals: Int, Decimal, exponent, strings in either quote, true, false, null', () => {
    expect(output("SELECT 10 AS i, 2.5 AS d, 5E-1 AS e, 'it''s' AS s, \"dq\" AS q, '\\d' AS b, true AS t, FALSE AS f, NULL AS n FROM 't'", {})).toEqual({
      i: 10,
      d: 2.5,
      e: 0.5,
      s: "it's",
      q: 'dq',
      b: '\\d',
      t: true,
      f: false,
      n: null,
    })
  })

  it('computes arithmetic, as in the SELECT clause example', () => {
    expect(output("SELECT (temperature - 32) * 5 / 9 AS celsius, upper(color) AS my_color FROM 't'", { color: 'red', temperature: 50 })).toEqual({
      celsius: 10,
      my_color: 'RED',
    })
  })
})

describe('CASE', () => {
  const sql = "SELECT CASE color WHEN 'green' THEN 'go' WHEN 'yellow' THEN 'caution' WHEN 'red' THEN 'stop' ELSE 'you are not at a stop light' END AS instructions FROM 't'"

  it('picks the first equal WHEN, else ELSE', () => {
    expect(output(sql, { color: 'yellow' })).toEqual({ instructions: 'caution' })
    expect(output(sql, { color: 'blue' })).toEqual({ instructions: 'you are not at a stop light' })
  })

  it('is Undefined for an Undefined subject, or no match and no ELSE', () => {
    expect(output(sql, {})).toEqual({})
    expect(output("SELECT VALUE CASE n WHEN 1 THEN 'one' END FROM 't'", { n: 2 })).toBeUndefined()
    expect(output("SELECT VALUE CASE n WHEN 1 THEN 'one' END FROM 't'", { n: 1.0 })).toBe('one')
  })

  it('searched CASE takes the first true condition', () => {
    const q = "SELECT VALUE CASE WHEN t > 30 THEN 'hot' WHEN t > 15 THEN 'mild' ELSE 'cold' END FROM 't'"
    expect(output(q, { t: 35 })).toBe('hot')
    expect(output(q, { t: 20 })).toBe('mild')
    expect(output(q, { t: 0 })).toBe('cold')
    expect(output(q, {})).toBe('cold')
  })
})

describe('nested object queries', () => {
  const payload = {
    e: [
      { n: 'temperature', u: 'Cel', t: 1234, v: 22.5 },
      { n: 'light', u: 'lm', t: 1235, v: 135 },
      { n: 'acidity', u: 'pH', t: 1235, v: 7 },
    ],
  }

  it('turn an array into values, filter it and flatten it', () => {
    expect(output("SELECT (SELECT VALUE n FROM e) AS sensors FROM 'my/topic'", payload)).toEqual({ sensors: ['temperature', 'light', 'acidity'] })
    expect(output("SELECT (SELECT v FROM e WHERE n = 'temperature') AS temperature FROM 'my/topic'", payload)).toEqual({ temperature: [{ v: 22.5 }] })
    expect(output("SELECT get((SELECT v FROM e WHERE n = 'temperature'), 0).v AS temperature FROM 'topic'", payload)).toEqual({ temperature: 22.5 })
  })

  it('are Undefined over something that is not an array', () => {
    expect(output("SELECT (SELECT VALUE n FROM missing) AS s FROM 't'", payload)).toEqual({})
  })
})

describe('WHERE', () => {
  it('passes only when true; false, Undefined and non-Booleans filter the message', () => {
    const q = compileSql("SELECT * FROM 't' WHERE temperature > 50")
    expect(q.run(message({ temperature: 51 }))).toMatchObject({ passed: true, where: true })
    expect(q.run(message({ temperature: 50 }))).toEqual({ passed: false, where: false, output: undefined })
    expect(q.run(message({}))).toEqual({ passed: false, where: undefined, output: undefined })
    expect(compileSql("SELECT * FROM 't' WHERE 1").run(message({})).passed).toBe(false)
    expect(compileSql("SELECT * FROM 't' WHERE flag").run(message({ flag: 'TRUE' })).passed).toBe(true)
  })

  it('cannot see SELECT aliases', () => {
    const q = compileSql("SELECT color AS my_color FROM 't' WHERE my_color = 'red'")
    expect(q.run(message({ color: 'red' })).passed).toBe(false)
  })

  it('the AWS example: filtered out by temperature', () => {
    const q = compileSql("SELECT color AS my_color FROM 'topic/subtopic' WHERE temperature > 50 AND color <> 'red'")
    expect(q.run(message({ color: 'red', temperature: 40 })).passed).toBe(false)
    expect(q.run(message({ color: 'blue', temperature: 60 })).output).toEqual({ my_color: 'blue' })
  })

  it('selectAlways evaluates the SELECT of a filtered message (for dry runs)', () => {
    const q = compileSql("SELECT a FROM 't' WHERE false")
    expect(q.run(message({ a: 1 }), { selectAlways: true })).toEqual({ passed: false, where: false, output: { a: 1 } })
  })
})

describe('payloads that are not JSON', () => {
  const raw = Buffer.from([0xde, 0xad, 0xbe, 0xef])

  it('SELECT * is the payload\'s own bytes, * in an expression is base64, and fields are Undefined', () => {
    expect(output("SELECT * FROM 't'", raw)).toEqual(raw)
    expect(Buffer.isBuffer(output("SELECT * FROM 't' WHERE true", raw))).toBe(true)
    expect(output("SELECT VALUE * FROM 't'", raw)).toEqual(raw)
    expect(output("SELECT * AS raw FROM 't'", raw)).toEqual({ raw: raw.toString('base64') })
    expect(output("SELECT VALUE isUndefined(anything) FROM 't'", raw)).toBe(true)
    expect(output("SELECT encode(*, 'base64') AS data FROM 't'", raw)).toEqual({ data: raw.toString('base64') })
  })

  it('SELECT * is the message itself: the payload unless it is JSON', () => {
    expect(compileSql("SELECT * FROM 't'")).toMatchObject({ selectsPayload: true, passThrough: true })
    expect(compileSql("SELECT * FROM 't' WHERE true")).toMatchObject({ selectsPayload: true, passThrough: false })
    expect(compileSql("SELECT *, 1 AS one FROM 't'")).toMatchObject({ selectsPayload: false, passThrough: false })
    // Within a nested query, * is the element, never bytes.
    expect(output("SELECT VALUE (SELECT * FROM a) FROM 't'", { a: [1, { b: 2 }] })).toEqual([1, { b: 2 }])
  })

  it('* with other columns of a payload that is not JSON fails the rule, as AWS does not merge it', () => {
    for (const sql of ["SELECT *, topic() AS t FROM 't'", "SELECT topic() AS t, * FROM 't'", "SELECT *, topic() AS a.b FROM 't'"]) {
      const result = compileSql(sql).run(message(raw))
      expect(result).toMatchObject({ passed: false, output: undefined })
      expect(result.error?.code).toBe('SY_SQL_EVAL')
      expect(result.error?.message).toContain("encode(*, 'base64') AS data")
    }
    // The WHERE decides first: a message it filters out is not a failure.
    expect(compileSql("SELECT *, topic() AS t FROM 't' WHERE isUndefined(a) = false").run(message(raw))).toEqual({ passed: false, output: undefined, where: false })
    // A dry run still sees the WHERE's verdict beside the error.
    expect(compileSql("SELECT *, topic() AS t FROM 't' WHERE false").run(message(raw), { selectAlways: true })).toMatchObject({ passed: false, where: false, error: expect.anything() })
  })

  it('a bare JSON number or string is binary, as in the AWS WHERE example', () => {
    const q = compileSql("SELECT decode(encode(*, 'base64'), 'base64') AS value FROM 'topic/subtopic' WHERE decode(encode(*, 'base64'), 'base64') > 50")
    expect(q.run(message('80'))).toEqual({ passed: true, where: true, output: { value: 80 } })
    expect(output("SELECT * FROM 't'", '"text"')).toEqual(Buffer.from('"text"'))
  })

  it('an empty payload has no fields and an empty *', () => {
    expect(output("SELECT *, 1 AS one FROM 't'", Buffer.alloc(0))).toEqual({ one: 1 })
    expect(output("SELECT * FROM 't'", Buffer.alloc(0))).toEqual(Buffer.alloc(0))
  })

  it('a JSON array payload is the document', () => {
    expect(output("SELECT VALUE get(*, 1) FROM 't'", [1, 2])).toBe(2)
  })

  it('accepts a Uint8Array payload', () => {
    expect(output("SELECT a FROM 't'", {}, { payload: new TextEncoder().encode('{"a":1}') })).toEqual({ a: 1 })
  })
})

describe('parsing the payload once per message', () => {
  it('run() stores the parsed payload in the context for the next rule', () => {
    const ctx = message({ a: 1 })
    const first = compileSql("SELECT * FROM 't'").run(ctx).output
    expect(ctx.parsed).toEqual({ a: 1 })
    expect(compileSql("SELECT * FROM 't'").run(ctx).output).toBe(first)
  })

  it('uses a value the caller parsed already, and null as "not JSON"', () => {
    const parsed = { a: 'pre-parsed' }
    expect(compileSql("SELECT a FROM 't'").run({ ...message('{"a":"raw"}'), parsed }).output).toEqual({ a: 'pre-parsed' })
    expect(compileSql("SELECT VALUE isUndefined(a) FROM 't'").run({ ...message('{"a":"raw"}'), parsed: null }).output).toBe(true)
  })

  it('marks a payload that is not JSON so that it is not parsed again', () => {
    const ctx = message('{ broken')
    compileSql("SELECT * FROM 't'").run(ctx)
    expect(ctx.parsed).toBeNull()
  })

  it('never throws for bad data', () => {
    const q = compileSql("SELECT a / b AS q, a.b.c AS deep, get(a, 'x') AS g, substring(a, 'x') AS s, lpad(a, b) AS p FROM 't' WHERE a / 0 = 1 OR true")
    for (const payload of [{ a: 1, b: 0 }, { a: null, b: null }, { a: [1], b: {} }, 'x', Buffer.from([0xff]), '{"a":'] as unknown[]) {
      expect(() => q.run(message(payload))).not.toThrow()
    }
  })
})

describe('FROM', () => {
  it.each(['chat/pub/#', 'sensors/+/temp', '$events/presence/+/+', '#', 'a/b'])('keeps the topic filter %s', (filter) => {
    expect(compileSql(`SELECT * FROM '${filter}'`).from).toBe(filter)
  })

  it('keeps the statement as written', () => {
    const sql = "SELECT *\n  FROM 'a/b'\n  WHERE x = 1"
    expect(compileSql(sql).sql).toBe(sql)
  })
})

describe('examples from the AWS IoT SQL reference', () => {
  it('JSON extensions: get() for names that dot notation cannot reach, double-quoted strings', () => {
    const payload = { mydata: { item2: { '0': { 'my-key': 'myValue' } } } }
    const q = compileSql(`SELECT * from 'iot/rules' WHERE get(get(get(mydata,"item2"),"0"),"my-key") = "myValue"`)
    expect(q.run(message(payload)).passed).toBe(true)
    expect(output("SELECT foo.bar AS bar.baz FROM 'topic/subtopic'", { foo: { bar: 'RED', bar1: 'GREEN' } })).toEqual({ bar: { baz: 'RED' } })
  })

  it('decode() of a base64 JSON document is addressable', () => {
    const sql = `SELECT decode(encoded_temp,"base64").temperature AS temp from 'topic/subtopic'`
    expect(output(sql, { encoded_temp: 'eyAidGVtcGVyYXR1cmUiOiAzMyB9Cg==' })).toEqual({ temp: 33 })
  })

  it('binary payloads: *, principal() and timestamp() on an empty or a JSON payload, * alone on a binary one', () => {
    const raw = Buffer.from([1, 2, 3])
    const sql = "SELECT *, principal() as principal, timestamp() as time FROM 'topic/subtopic'"
    expect(output(sql, Buffer.alloc(0), { principal: 'thumbprint' })).toEqual({ principal: 'thumbprint', time: 1700000000789 })
    expect(output(sql, { a: 1 }, { principal: 'thumbprint' })).toEqual({ a: 1, principal: 'thumbprint', time: 1700000000789 })
    expect(compileSql(sql).run(message(raw)).error?.code).toBe('SY_SQL_EVAL')
    expect(output("SELECT encode(*, 'base64') AS data, timestamp() AS ts FROM 'topic/subtopic'", raw)).toEqual({ data: 'AQID', ts: 1700000000789 })
    expect(output("SELECT * FROM 'topic/subtopic'", raw)).toEqual(raw)
    const q = compileSql("SELECT * FROM 'topic/subtopic' WHERE timestamp() % 12 = 0")
    expect(q.run(message(raw, { timestamp: 24 })).passed).toBe(true)
    expect(q.run(message(raw, { timestamp: 25 })).passed).toBe(false)
  })
})
