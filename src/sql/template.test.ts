import { describe, expect, it } from 'vitest'
import { SqlSyntaxError } from '../errors.js'
import { compileSql, compileTemplate, type SqlContext } from './index.js'

function message(payload: unknown, overrides: Partial<SqlContext> = {}): SqlContext {
  return {
    payload: Buffer.isBuffer(payload) ? payload : Buffer.from(JSON.stringify(payload)),
    topic: 'sensors/boiler/temp',
    clientId: 'gw-9',
    timestamp: 1700000000789,
    ...overrides,
  }
}

function fill(template: string, payload: unknown, overrides: Partial<SqlContext> = {}): string {
  return compileTemplate(template)({ ctx: message(payload, overrides) })
}

describe('substitution templates', () => {
  it('fill fields, topic(n) and clientid()', () => {
    expect(fill('chat/pub/${room}', { room: 'lobby' })).toBe('chat/pub/lobby')
    expect(fill('alerts/${topic(2)}/${clientid()}', {})).toBe('alerts/boiler/gw-9')
    expect(fill('${topic()}/republish', {})).toBe('sensors/boiler/temp/republish')
    expect(fill('${timestamp()}', {})).toBe('1700000000789')
  })

  it('take any expression, with operators, functions and literals', () => {
    expect(fill("hot: ${temp} (${temp * 2}) ${upper('x') + '}'}", { temp: 35 })).toBe('hot: 35 (70) X}')
    expect(fill("${CASE WHEN temp > 30 THEN 'hot' ELSE 'ok' END}", { temp: 35 })).toBe('hot')
    expect(fill("${get({'a': {'b': 1}}, 'a')}", {})).toBe('{"b":1}')
    expect(fill('${a.b[1]}', { a: { b: [1, 2] } })).toBe('2')
  })

  it('parse the payload only when an expression reads it, once for the message', () => {
    const parsedBy = (template: string): unknown => {
      const ctx = message({ room: 'lobby' })
      compileTemplate(template)({ ctx })
      return ctx.parsed
    }
    for (const template of ['${topic(2)}', 'k/${clientid()}/${timestamp()}', "${concat(upper('x'), topic())}", '${1 + 2}']) {
      expect(parsedBy(template), template).toBeUndefined()
    }
    for (const template of ['${room}', '${topic(2)}/${room}', '${upper(room)}', '${get(*, \'room\')}', '${CASE topic(1) WHEN \'a\' THEN 1 ELSE room END}', '${[1, room][0]}', "${{'r': room}}"]) {
      expect(parsedBy(template), template).toEqual({ room: 'lobby' })
    }
    // A payload parsed already is not parsed again.
    const ctx = message({ room: 'lobby' }, { parsed: { room: 'parsed before' } })
    expect(compileTemplate('${room}')({ ctx })).toBe('parsed before')
  })

  it('write Undefined as nothing, strings as they are, other values as JSON', () => {
    expect(fill('x${missing}y', {})).toBe('xy')
    expect(fill('${s}|${n}|${b}|${z}|${o}|${arr}', { s: 'str', n: 1.5, b: false, z: null, o: { k: 'v' }, arr: [1, 'a'] })).toBe(
      'str|1.5|false|null|{"k":"v"}|[1,"a"]',
    )
  })

  it('read the original payload, not the SELECT output (as AWS does)', () => {
    const query = compileSql("SELECT temp * 2 AS temp, topic(2) AS device FROM 'sensors/+/temp'")
    const ctx = message({ temp: 35 })
    const output = query.run(ctx).output
    expect(output).toEqual({ temp: 70, device: 'boiler' })
    const render = compileTemplate('${temp} on ${device} / ${topic(2)}')
    expect(render({ ctx, output })).toBe('35 on  / boiler')
  })

  it('leave text without ${ as it is, $ and } included', () => {
    expect(fill('plain/topic', {})).toBe('plain/topic')
    expect(fill('cost: $5 {x} }', {})).toBe('cost: $5 {x} }')
  })

  it('see a payload that is not JSON as having no fields', () => {
    expect(fill('raw/${topic(3)}/${x}', Buffer.from([0xff]))).toBe('raw/temp/')
    expect(fill("${encode(*, 'base64')}", Buffer.from([0xff]))).toBe('/w==')
  })

  it('parse the payload once, sharing it with the rules', () => {
    const ctx = message({ room: 'r' })
    compileSql("SELECT * FROM 'x'").run(ctx)
    const parsed = ctx.parsed
    expect(compileTemplate('${room}')({ ctx })).toBe('r')
    expect(ctx.parsed).toBe(parsed)
  })
})

describe('a template that does not parse', () => {
  it.each([
    ['chat/${room', "expected '}' to close the ${ at column 6 but found the end of the template at column 12", 12],
    ['a/${}', "expected an expression but found '}' at column 5", 5],
    ['a/${room b}', "expected '}' to close the ${ at column 3 but found 'b' at column 10", 10],
    ["a/${'open}", "expected a closing ' for the text that opens at column 5 but found the end of the template at column 11", 11],
    ['a/${nosuch()}', "expected a known function but found 'nosuch' at column 5: there is no SQL function named nosuch()", 5],
  ])('%s', (template, message, column) => {
    let error: unknown
    try {
      compileTemplate(template)
    } catch (err) {
      error = err
    }
    expect(error).toBeInstanceOf(SqlSyntaxError)
    expect((error as SqlSyntaxError).message).toBe(message)
    expect((error as SqlSyntaxError).column).toBe(column)
  })
})
