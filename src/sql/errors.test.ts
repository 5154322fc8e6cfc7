import { describe, expect, it } from 'vitest'
import { SqlSyntaxError } from '../errors.js'
import { compileSql } from './index.js'

function syntaxError(sql: string): SqlSyntaxError {
  try {
    compileSql(sql)
  } catch (err) {
    expect(err).toBeInstanceOf(SqlSyntaxError)
    return err as SqlSyntaxError
  }
  throw new Error(`expected ${sql} not to compile`)
}

describe('a statement that does not parse', () => {
  it.each([
    // [sql, message, column, expected]
    ["SELECT a, b, c WHERE x = 1", "expected FROM but found 'WHERE' at column 16", 16, 'FROM'],
    ["SELECT * FORM 'x'", "expected FROM but found 'FORM' at column 10", 10, 'FROM'],
    ["SELEC * FROM 'x'", "expected SELECT but found 'SELEC' at column 1", 1, 'SELECT'],
    ['', 'expected SELECT but found the end of the statement at column 1', 1, 'SELECT'],
    ["SELECT FROM 'x'", "expected an expression but found 'FROM' at column 8", 8, 'an expression'],
    ["SELECT * FROM", 'expected the topic filter in single quotes, such as \'sensors/+/temp\' but found the end of the statement at column 14', 14, "the topic filter in single quotes, such as 'sensors/+/temp'"],
    ['SELECT * FROM topic/#', "expected the topic filter in single quotes, such as 'sensors/+/temp' but found 'topic' at column 15", 15, "the topic filter in single quotes, such as 'sensors/+/temp'"],
    ['SELECT * FROM "a/b"', "expected the topic filter in single quotes, such as 'sensors/+/temp' but found the string \"a/b\" at column 15", 15, "the topic filter in single quotes, such as 'sensors/+/temp'"],
    ["SELECT * FROM 'a' WHERE", 'expected an expression but found the end of the statement at column 24', 24, 'an expression'],
    ["SELECT * FROM 'a' ORDER BY x", "expected WHERE or the end of the statement but found 'ORDER' at column 19", 19, 'WHERE or the end of the statement'],
    ["SELECT * FROM 'a' WHERE x = 1 LIMIT 1", "expected the end of the statement but found 'LIMIT' at column 31", 31, 'the end of the statement'],
    ["SELECT (a + 1 FROM 'a'", "expected ')' but found 'FROM' at column 15", 15, "')'"],
    ["SELECT upper(a FROM 'a'", "expected ',' or ')' but found 'FROM' at column 16", 16, "',' or ')'"],
    ["SELECT a AS FROM 'a'", "expected a name after AS but found 'FROM' at column 13", 13, 'a name after AS'],
    ["SELECT a. FROM 'a'", "expected a field name after . but found 'FROM' at column 11", 11, 'a field name after .'],
    ["SELECT a[0 FROM 'a'", "expected ']' but found 'FROM' at column 12", 12, "']'"],
    ["SELECT CASE WHEN a THEN 1 FROM 'a'", "expected WHEN, ELSE or END but found 'FROM' at column 27", 27, 'WHEN, ELSE or END'],
    ["SELECT CASE a END FROM 'a'", "expected WHEN but found 'END' at column 15", 15, 'WHEN'],
    ["SELECT cast(a AS Float) FROM 'a'", "expected a type (String, Int, Decimal, Double, Boolean, ...) but found 'Float' at column 18", 18, 'a type (String, Int, Decimal, Double, Boolean, ...)'],
    ["SELECT {1: 2} FROM 'a'", "expected a key (a string) in the object literal but found '1' at column 9", 9, 'a key (a string) in the object literal'],
    ["SELECT 'abc FROM 'a'", "expected FROM but found 'a' at column 19", 19, 'FROM'],
    ["SELECT * FROM 'a", "expected a closing ' for the text that opens at column 15 but found the end of the statement at column 17", 17, "a closing ' for the text that opens at column 15"],
    ["SELECT a # b FROM 'a'", "expected a name, a literal or an operator but found '#' at column 10", 10, 'a name, a literal or an operator'],
    ["SELECT a || b FROM 'a'", "expected an operator such as + or - but found '||' at column 10: AWS IoT SQL has no || operator; use concat() or +", 10, 'an operator such as + or -'],
    ["SELECT VALUE a, b FROM 'a'", "expected FROM but found ',' at column 15: SELECT VALUE takes a single expression", 15, 'FROM'],
    ["SELECT * FROM 'a/#/b'", "expected a valid topic filter but found the string 'a/#/b' at column 15: '#' must be a whole level and the last one", 15, 'a valid topic filter'],
    ["SELECT * FROM 'a+/b'", "expected a valid topic filter but found the string 'a+/b' at column 15: '+' must be a whole level", 15, 'a valid topic filter'],
    ["SELECT * FROM ''", "expected a valid topic filter but found the string '' at column 15: a topic filter must not be empty", 15, 'a valid topic filter'],
    ["SELECT * FROM 'a' -- comment", "expected WHERE or the end of the statement but found '-' at column 19", 19, 'WHERE or the end of the statement'],
  ])('%s', (sql, message, column, expected) => {
    const err = syntaxError(sql)
    expect(err.message).toBe(message)
    expect(err.column).toBe(column)
    expect(err.expected).toBe(expected)
    expect(err.code).toBe('SY_SQL_SYNTAX')
  })

  it('counts columns across lines from the start of the statement', () => {
    expect(syntaxError("SELECT *\nFROM 'a'\nWHERE").column).toBe(24)
  })
})

describe('a function call that cannot work', () => {
  it.each([
    ["SELECT nosuch(a) FROM 'a'", "expected a known function but found 'nosuch' at column 8: there is no SQL function named nosuch()", 8],
    ["SELECT a, aws_lambda('arn', *) FROM 'a'", "expected a known function but found 'aws_lambda' at column 11: aws_lambda() is an AWS IoT function that Switchyard does not support", 11],
    ["SELECT round(1, 2) FROM 'a'", 'expected 1 argument to round() but found 2 at column 8', 8],
    ["SELECT Topic(1, 2) FROM 'a'", 'expected 0 to 1 arguments to Topic() but found 2 at column 8', 8],
    ["SELECT substring('a') FROM 'a'", 'expected 2 to 3 arguments to substring() but found 1 at column 8', 8],
    ["SELECT clientid(1) FROM 'a'", 'expected 0 arguments to clientid() but found 1 at column 8', 8],
    ["SELECT encode(*, 'hex') FROM 'a'", `expected the encoding 'base64' but found "hex" at column 18`, 18],
    ["SELECT regexp_matches(a, '(') FROM 'a'", "expected a valid regular expression but found '(' at column 26: Unterminated group", 26],
    ["SELECT regexp_matches(a, '(?x)a') FROM 'a'", "expected a valid regular expression but found '(?x)a' at column 26: the inline flag (?x) is not supported", 26],
    ["SELECT regexp_replace(a, 'b', '$x') FROM 'a'", 'expected a valid replacement (use $1 for a group and \\$ for a dollar sign) but found "$x" at column 31', 31],
  ])('%s', (sql, message, column) => {
    const err = syntaxError(sql)
    expect(err.message).toBe(message)
    expect(err.column).toBe(column)
  })
})
