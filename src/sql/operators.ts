import type { BinaryOp } from './ast.js'
import { finite, sqlEquals, toBoolean, toNumber, toText } from './values.js'

/*
 * The operators, per developerguide/iot-sql-operators.md. Each table in
 * that page is one function here. None throws: a wrong type, a failed
 * conversion or a division by zero is Undefined.
 */

export type BinaryFn = (a: unknown, b: unknown) => unknown

/**
 * AND and OR take Booleans or the strings "true"/"false"; anything else on
 * either side makes the result Undefined. Both sides are always evaluated,
 * as the operator tables define no short cut.
 */
function and(a: unknown, b: unknown): boolean | undefined {
  const x = toBoolean(a)
  const y = toBoolean(b)
  return x === undefined || y === undefined ? undefined : x && y
}

function or(a: unknown, b: unknown): boolean | undefined {
  const x = toBoolean(a)
  const y = toBoolean(b)
  return x === undefined || y === undefined ? undefined : x || y
}

export function not(a: unknown): boolean | undefined {
  const x = toBoolean(a)
  return x === undefined ? undefined : !x
}

function notEquals(a: unknown, b: unknown): boolean | undefined {
  const eq = sqlEquals(a, b)
  return eq === undefined ? undefined : !eq
}

/** < <= > >=: both sides converted to Decimal (numeric strings too), else Undefined. */
function compare(test: (x: number, y: number) => boolean): BinaryFn {
  return (a, b) => {
    const x = toNumber(a)
    const y = toNumber(b)
    return x === undefined || y === undefined ? undefined : test(x, y)
  }
}

/**
 * `+` concatenates when either side is a String (the other side converted
 * to a string; Null and Undefined have none, so the result is Undefined),
 * and adds numbers otherwise. Unlike - * / %, it never parses a string as a
 * number: `'1' + 2` is "12".
 */
function plus(a: unknown, b: unknown): unknown {
  if (typeof a === 'string' || typeof b === 'string') {
    const x = toText(a)
    const y = toText(b)
    return x === undefined || y === undefined ? undefined : x + y
  }
  if (typeof a === 'number' && typeof b === 'number') return finite(a + b)
  return undefined
}

/** - and *: numbers, or strings that convert to Decimal. */
function arithmetic(fn: (x: number, y: number) => number): BinaryFn {
  return (a, b) => {
    const x = toNumber(a)
    const y = toNumber(b)
    return x === undefined || y === undefined ? undefined : finite(fn(x, y))
  }
}

/**
 * `/`: Int / Int is an Int (the quotient truncated toward zero), anything
 * with a Decimal or a converted string is a Decimal. Dividing by zero is
 * Undefined.
 */
export function divide(a: unknown, b: unknown): number | undefined {
  const x = toNumber(a)
  const y = toNumber(b)
  if (x === undefined || y === undefined || y === 0) return undefined
  if (typeof a === 'number' && typeof b === 'number' && Number.isInteger(a) && Number.isInteger(b)) return Math.trunc(x / y)
  return finite(x / y)
}

/** `%`, mod() and remainder(): the remainder takes the sign of the dividend. */
export function modulo(a: unknown, b: unknown): number | undefined {
  const x = toNumber(a)
  const y = toNumber(b)
  if (x === undefined || y === undefined || y === 0) return undefined
  return finite(x % y)
}

/** Unary minus: the negated number, for numbers and numeric strings. */
export function negate(a: unknown): number | undefined {
  const x = toNumber(a)
  return x === undefined ? undefined : 0 - x
}

export const BINARY: Record<BinaryOp, BinaryFn> = {
  AND: and,
  OR: or,
  '=': sqlEquals,
  '<>': notEquals,
  '<': compare((x, y) => x < y),
  '<=': compare((x, y) => x <= y),
  '>': compare((x, y) => x > y),
  '>=': compare((x, y) => x >= y),
  '+': plus,
  '-': arithmetic((x, y) => x - y),
  '*': arithmetic((x, y) => x * y),
  '/': divide,
  '%': modulo,
}
