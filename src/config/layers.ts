import { readFileSync } from 'node:fs'
import { dirname, isAbsolute, resolve } from 'node:path'
import { isMap, isScalar, LineCounter, parseDocument, visit, type Document, type YAMLError } from 'yaml'
import { ConfigError } from '../errors.js'

/**
 * `extends: FILE`: a config file that starts from another. The docker image's
 * config is the chat example (its rules, functions, auth and ACL, as `npm
 * start` runs them) with the container's listeners and volume paths on top,
 * instead of a copy of the example that drifts from it.
 *
 * The file named is read first, then this one on top of it: maps merge key
 * by key, at any depth; anything else (a list such as `rules` or `acl`, a
 * string, a number) is replaced whole. The file named may extend another.
 * Its relative paths stay relative to its own folder.
 */
export const EXTENDS_KEY = 'extends'

/** One config file of a chain: what it says, and its text, to point into it. */
export interface Layer {
  file: string
  text: string
  doc: Document
  lines: LineCounter
  /** The file's data, `extends` left out; in a file named by `extends`, its paths made absolute. */
  raw: unknown
}

/** The layers of a config, the file itself first, then the one it extends, and so on. */
export function readLayers(text: string, file: string): Layer[] {
  const layers = [parseLayer(text, file)]
  const seen = new Set([resolve(file)])
  for (let layer = layers[0]!; ;) {
    const next = extended(layer)
    if (next === undefined) return layers
    if (seen.has(next.path)) throw atExtends(layer, `names ${next.named}, which extends this file again: a loop`)
    seen.add(next.path)
    let baseText: string
    try {
      baseText = readFileSync(next.path, 'utf8')
    } catch (err) {
      const reason = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'does not exist' : 'cannot be read'
      throw atExtends(layer, `names ${next.named}, which ${reason} (${next.path})`)
    }
    layer = parseLayer(baseText, next.path)
    layer.raw = absolutePaths(layer.raw, dirname(next.path))
    layers.push(layer)
  }
}

/** The files a config is read from: the file itself, and those it extends as they are now. */
export function configFiles(file: string): string[] {
  try {
    return readLayers(readFileSync(file, 'utf8'), file).map((layer) => layer.file)
  } catch {
    return [file]
  }
}

/** The config the layers make together: each file on top of the one it extends. */
export function mergeLayers(layers: readonly Layer[]): unknown {
  return layers.reduceRight<unknown>((base, layer) => merge(base, layer.raw), {})
}

/** The file that sets the value at `path`: the topmost that has it, else the file itself. */
export function layerAt(layers: readonly Layer[], path: ReadonlyArray<string | number>): Layer {
  return layers.find((layer) => layer.doc.hasIn(path)) ?? layers[0]!
}

/** Parses one file; a YAML mistake is reported at its place in that file. */
function parseLayer(text: string, file: string): Layer {
  const lines = new LineCounter()
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true })
  const yamlError = doc.errors[0]
  if (yamlError) {
    const pos = lines.linePos(yamlErrorOffset(doc, yamlError))
    throw new ConfigError('SY_CONFIG_YAML', `the config file is not valid YAML: ${firstLine(yamlError.message)}`, { file, line: pos.line, column: pos.col })
  }
  const raw: unknown = doc.toJS() ?? {}
  return { file, text, doc, lines, raw: isPlainObject(raw) && EXTENDS_KEY in raw ? withoutKey(raw, EXTENDS_KEY) : raw }
}

function extended(layer: Layer): { named: string; path: string } | undefined {
  const contents = layer.doc.contents
  if (!isMap(contents) || !contents.has(EXTENDS_KEY)) return undefined
  const named = contents.get(EXTENDS_KEY)
  if (typeof named !== 'string' || named === '') throw atExtends(layer, 'must be the path of another config file')
  return { named, path: resolve(dirname(resolve(layer.file)), named) }
}

function atExtends(layer: Layer, message: string): ConfigError {
  const node = isMap(layer.doc.contents) ? layer.doc.contents.items.find((pair) => isScalar(pair.key) && pair.key.value === EXTENDS_KEY) : undefined
  const offset = (node?.value as { range?: [number, number] } | null | undefined)?.range?.[0] ?? (node?.key as { range?: [number, number] } | undefined)?.range?.[0]
  const pos = offset === undefined ? undefined : layer.lines.linePos(offset)
  return new ConfigError('SY_CONFIG_INVALID', message, { file: layer.file, ...(pos ? { line: pos.line, column: pos.col } : {}), key: EXTENDS_KEY })
}

/**
 * The file paths a config holds (the ones load.ts resolves), made absolute
 * against `dir`, so that a file named by `extends` keeps its paths relative
 * to its own folder whoever extends it. Values of the wrong type are left
 * for the schema to report.
 */
const PATH_KEYS = [['storage', 'sqlite'], ['functions', '*', 'module'], ['tls', 'cert'], ['tls', 'key'], ['tls', 'ca'], ['auth', 'jwt', 'secretFile']]

function absolutePaths(raw: unknown, dir: string): unknown {
  const absolute = (value: unknown) =>
    typeof value === 'string' && value !== '' && value !== ':memory:' && !isAbsolute(value) ? resolve(dir, value) : value
  return PATH_KEYS.reduce((value, path) => mapAt(value, path, absolute), raw)
}

/** `value` with `fn` applied at `path` (`*`: every key), where that path exists. */
function mapAt(value: unknown, path: readonly string[], fn: (value: unknown) => unknown): unknown {
  if (path.length === 0) return fn(value)
  if (!isPlainObject(value)) return value
  const [head, ...rest] = path
  const keys = head === '*' ? Object.keys(value) : head! in value ? [head!] : []
  if (keys.length === 0) return value
  const out = { ...value }
  for (const key of keys) out[key] = mapAt(value[key], rest, fn)
  return out
}

function merge(base: unknown, top: unknown): unknown {
  if (!isPlainObject(base) || !isPlainObject(top)) return top
  const out: Record<string, unknown> = { ...base }
  for (const [key, value] of Object.entries(top)) out[key] = key in base ? merge(base[key], value) : value
  return out
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

function withoutKey(value: Record<string, unknown>, key: string): Record<string, unknown> {
  const { [key]: _left, ...rest } = value
  return rest
}

/**
 * Where to point for a YAML error. A quote that is never closed is found
 * only at the end of the file; the place to fix is where it opened.
 */
function yamlErrorOffset(doc: Document, error: YAMLError): number {
  let at = error.pos[0]
  if (error.code === 'MISSING_CHAR' && /quote/.test(error.message)) {
    visit(doc, {
      Scalar(_key, node) {
        if ((node.type === 'QUOTE_DOUBLE' || node.type === 'QUOTE_SINGLE') && node.range?.[1] === error.pos[0]) at = node.range[0]
      },
    })
  }
  return at
}

function firstLine(message: string): string {
  return message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '')
}
