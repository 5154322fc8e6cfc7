/*
 * The value model and the standard conversions of AWS IoT SQL
 * (developerguide/iot-sql-data-types.md, "Conversions").
 *
 * Values are plain JavaScript: Undefined is `undefined`, Null is `null`,
 * Int and Decimal are numbers, and the rest are JSON strings, booleans,
 * arrays and objects. With SQL version 2016-03-23 a whole number is an Int
 * even when written `10.0`, so "is it an Int" is `Number.isInteger`.
 * Decimals are doubles here, not AWS' 34-digit decimals.
 */

/** Strings that convert to Decimal, exactly the pattern the AWS docs give. */
const DECIMAL_STRING = /^-?\d+(\.\d+)?([eE]-?\d+)?$/

/** A JSON object (not an array, not null). */
export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/**
 * A number result as SQL sees it: NaN and infinities (not representable in
 * JSON) are Undefined, and -0 (from ceil(-0.5)) is 0.
 */
export function finite(n: number): number | undefined {
  return Number.isFinite(n) ? n + 0 : undefined
}

/** "To decimal": numbers as they are, numeric strings parsed, everything else Undefined. */
export function toNumber(value: unknown): number | undefined {
  if (typeof value === 'number') return value
  if (typeof value === 'string' && DECIMAL_STRING.test(value)) return finite(Number(value))
  return undefined
}

/** A number rounded down, as most Int-taking functions convert their argument. */
export function toFlooredInt(value: unknown): number | undefined {
  const n = toNumber(value)
  return n === undefined ? undefined : Math.floor(n)
}

/** "To Boolean": booleans, and the strings "true" and "false" in any case. */
export function toBoolean(value: unknown): boolean | undefined {
  if (typeof value === 'boolean') return value
  if (typeof value === 'string') {
    if (value.length === 4 && value.toLowerCase() === 'true') return true
    if (value.length === 5 && value.toLowerCase() === 'false') return false
  }
  return undefined
}

/** "To string": Null and Undefined have no string; arrays and objects become JSON. */
export function toText(value: unknown): string | undefined {
  switch (typeof value) {
    case 'string':
      return value
    case 'number':
      return String(value)
    case 'boolean':
      return value ? 'true' : 'false'
    case 'object':
      return value === null ? undefined : JSON.stringify(value)
    default:
      return undefined
  }
}

/**
 * The `=` operator: Undefined if either side is Undefined, false for
 * mismatched types (no conversion: `'5' = 5` is false), deep comparison for
 * arrays (in order) and objects (any key order).
 */
export function sqlEquals(a: unknown, b: unknown): boolean | undefined {
  if (a === undefined || b === undefined) return undefined
  return sameValue(a, b)
}

function sameValue(a: unknown, b: unknown): boolean {
  if (a === b) return true
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false
    for (let i = 0; i < a.length; i++) if (!sameValue(a[i], b[i])) return false
    return true
  }
  if (Array.isArray(b)) return false
  const ao = a as Record<string, unknown>
  const bo = b as Record<string, unknown>
  const keys = Object.keys(ao)
  if (keys.length !== Object.keys(bo).length) return false
  for (const key of keys) {
    if (!Object.hasOwn(bo, key) || !sameValue(ao[key], bo[key])) return false
  }
  return true
}

/**
 * How a value reads when it stands alone, as in a substitution template:
 * strings as they are, Undefined as the empty string (per the AWS docs),
 * anything else as JSON.
 */
export function renderValue(value: unknown): string {
  if (typeof value === 'string') return value
  if (value === undefined) return ''
  return JSON.stringify(value)
}

/**
 * A field of an object, or Undefined. Only own properties count, so that a
 * payload without `constructor` does not answer with Object.prototype's.
 */
export function fieldOf(value: unknown, key: string): unknown {
  if (!isObject(value)) return undefined
  return Object.hasOwn(value, key) ? value[key] : undefined
}

/**
 * `get(collection, key)` and `value[key]`: an array or string by 0-based
 * index (converted to Int), an object by string key (no conversion).
 */
export function elementOf(collection: unknown, key: unknown): unknown {
  if (Array.isArray(collection) || typeof collection === 'string') {
    const i = toIndex(key)
    if (i === undefined || i < 0 || i >= collection.length) return undefined
    return collection[i]
  }
  if (isObject(collection) && typeof key === 'string') return fieldOf(collection, key)
  return undefined
}

/** "To int" as the data-types table has it: Decimals rounded, strings truncated. */
function toIndex(key: unknown): number | undefined {
  if (typeof key === 'number') return Math.round(key)
  const n = toNumber(key)
  return n === undefined ? undefined : Math.trunc(n)
}
