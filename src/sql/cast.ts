import type { CastType } from './ast.js'
import { toBoolean, toNumber, toText } from './values.js'

/*
 * cast(value AS Type), per the "Casting rules" tables of the AWS cast()
 * reference: the standard conversions, plus numbers to and from Booleans.
 * Anything the tables leave out (Arrays, Objects, Null, Undefined to a
 * number or Boolean) is Undefined.
 */

/** To Decimal: with SQL 2016-03-23 a whole result is still an Int (10.0 is 10). */
function toDecimal(value: unknown): number | undefined {
  if (typeof value === 'boolean') return value ? 1 : 0
  return toNumber(value)
}

/** To Int: Decimals and numeric strings are rounded down. */
function toInt(value: unknown): number | undefined {
  const n = toDecimal(value)
  return n === undefined ? undefined : Math.floor(n)
}

/** To Boolean: 0 is false and any other number true; "true"/"false" in any case. */
function toBool(value: unknown): boolean | undefined {
  if (typeof value === 'number') return value !== 0
  return toBoolean(value)
}

export const CASTS: Record<CastType, (value: unknown) => unknown> = {
  string: toText,
  int: toInt,
  decimal: toDecimal,
  boolean: toBool,
}
