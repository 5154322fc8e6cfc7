/**
 * A patch point: one part of Aedes or mqtt-packet that is not in their
 * public API and that Switchyard reads, replaces or relies on. Each file in
 * this folder lists the points it uses; check.ts looks for every one at
 * start, before anything is patched.
 */
export interface Point {
  /** As a reader of the upstream source would look for it: `Client#waitForDrain(done)`. */
  readonly name: string
  /** Whether the probe has it, in the shape the code here assumes. */
  readonly present: (probe: Probe) => boolean
}

/** What the points are looked for on: an Aedes instance and a client it made with `handle`. */
export interface Probe {
  readonly broker: object
  readonly client: object
}

/** A function at `name` (own or inherited) that declares `arity` parameters. */
export function hasMethod(target: unknown, name: string, arity: number): boolean {
  const value = (target as Record<string, unknown> | null | undefined)?.[name]
  return typeof value === 'function' && value.length === arity
}

/** An own property `name` of the given type (`object` excludes null). */
export function hasOwn(target: unknown, name: string, type: 'object' | 'boolean' | 'function' | 'number'): boolean {
  if (typeof target !== 'object' || target === null || !Object.hasOwn(target, name)) return false
  const value = (target as Record<string, unknown>)[name]
  return typeof value === type && value !== null
}

/** The prototype an instance's methods come from. */
export function protoOf(target: unknown): unknown {
  return typeof target === 'object' && target !== null ? Object.getPrototypeOf(target) : undefined
}
