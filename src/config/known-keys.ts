import type { z } from 'zod'

/**
 * Finds the object schema at a config path and lists its keys, so that an
 * unknown key can be answered with the keys that would have been accepted.
 * Walks through the wrappers (default, optional, pipe, array) that zod puts
 * around an object.
 */
export function describeKnownKeys(schema: z.ZodType, path: readonly (string | number)[]): string {
  let node: z.core.$ZodType | undefined = schema
  for (const part of path) {
    node = unwrap(node)
    if (!node) return ''
    const def = node._zod.def as unknown as Record<string, unknown>
    if (def.type === 'object') node = (def.shape as Record<string, z.core.$ZodType>)[String(part)]
    else if (def.type === 'array') node = def.element as z.core.$ZodType
    else if (def.type === 'record') node = def.valueType as z.core.$ZodType
    else return ''
  }
  node = unwrap(node)
  const def = node?._zod.def as unknown as Record<string, unknown> | undefined
  if (def?.type !== 'object') return ''
  return ` (expected one of: ${Object.keys(def.shape as object).join(', ')})`
}

function unwrap(node: z.core.$ZodType | undefined): z.core.$ZodType | undefined {
  for (let i = 0; node && i < 16; i++) {
    const def = node._zod.def as unknown as Record<string, unknown>
    if (def.type === 'default' || def.type === 'prefault' || def.type === 'optional' || def.type === 'nullable' || def.type === 'readonly') {
      node = def.innerType as z.core.$ZodType
    } else if (def.type === 'pipe') {
      node = def.in as z.core.$ZodType
    } else {
      return node
    }
  }
  return node
}
