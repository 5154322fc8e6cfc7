import { pure1, pure2, type FunctionDef } from './function-def.js'
import { modulo } from './operators.js'
import { finite, toFlooredInt, toNumber } from './values.js'

/*
 * Numeric functions (developerguide/iot-sql-functions.md). Each takes Int,
 * Decimal or a string that converts to Decimal; anything else, and any
 * result that is not a finite number (sqrt(-1), ln(0)), is Undefined.
 */

function numeric(fn: (x: number) => number): FunctionDef {
  return pure1((a) => {
    const x = toNumber(a)
    return x === undefined ? undefined : finite(fn(x))
  })
}

function numeric2(fn: (x: number, y: number) => number): FunctionDef {
  return pure2((a, b) => {
    const x = toNumber(a)
    const y = toNumber(b)
    return x === undefined || y === undefined ? undefined : finite(fn(x, y))
  })
}

/** Bitwise operations on the 64-bit Ints AWS uses; arguments are rounded down first. */
function bitwise(fn: (x: bigint, y: bigint) => bigint): FunctionDef {
  return pure2((a, b) => {
    const x = toFlooredInt(a)
    const y = toFlooredInt(b)
    return x === undefined || y === undefined ? undefined : Number(BigInt.asIntN(64, fn(BigInt(x), BigInt(y))))
  })
}

/**
 * round(): to the nearest Int, halves away from zero. The AWS examples show
 * round(1.5) = 2 and round(-1.5) = -2 (Math.round would give -1).
 */
function roundHalfAway(x: number): number {
  return x < 0 ? -Math.round(-x) : Math.round(x)
}

/**
 * trunc(x, places): cut (not round) to `places` decimals, 0 to 34. Done on
 * the decimal digits, since x * 10^places in doubles can land just below
 * the intended value (1.005 * 1000 = 1004.999...).
 */
function trunc(a: unknown, b: unknown): number | undefined {
  const x = toNumber(a)
  const p = toFlooredInt(b)
  if (x === undefined || p === undefined) return undefined
  if (Number.isInteger(x)) return x
  const places = Math.min(34, Math.max(0, p))
  const text = String(x)
  const dot = text.indexOf('.')
  if (text.includes('e') || dot < 0) return finite(Math.trunc(x * 10 ** places) / 10 ** places)
  return Number(text.slice(0, places === 0 ? dot : dot + 1 + places))
}

export const MATH_FUNCTIONS: Record<string, FunctionDef> = {
  abs: numeric(Math.abs),
  ceil: numeric(Math.ceil),
  floor: numeric(Math.floor),
  round: numeric(roundHalfAway),
  sign: numeric(Math.sign),
  sqrt: numeric(Math.sqrt),
  exp: numeric(Math.exp),
  ln: numeric(Math.log),
  log: numeric(Math.log10),
  power: numeric2(Math.pow),
  mod: pure2(modulo),
  remainder: pure2(modulo),
  trunc: pure2(trunc),
  sin: numeric(Math.sin),
  cos: numeric(Math.cos),
  tan: numeric(Math.tan),
  asin: numeric(Math.asin),
  acos: numeric(Math.acos),
  atan: numeric(Math.atan),
  atan2: numeric2(Math.atan2),
  sinh: numeric(Math.sinh),
  cosh: numeric(Math.cosh),
  tanh: numeric(Math.tanh),
  bitand: bitwise((x, y) => x & y),
  bitor: bitwise((x, y) => x | y),
  bitxor: bitwise((x, y) => x ^ y),
  bitnot: pure1((a) => {
    const x = toFlooredInt(a)
    return x === undefined ? undefined : Number(BigInt.asIntN(64, ~BigInt(x)))
  }),
}
