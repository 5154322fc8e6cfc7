import { readFileSync } from 'node:fs'
import { dirname, isAbsolute, resolve } from 'node:path'
import { isMap, isScalar, type Document, type LineCounter, type Node } from 'yaml'
import type { z } from 'zod'
import { ConfigError } from '../errors.js'
import { checkedConfigSchema, configSchema, type Config } from './schema.js'
import { describeKnownKeys } from './known-keys.js'
import { applyEnvironment } from './environment.js'
import { offsetInScalar } from './scalar-position.js'
import { EXTENDS_KEY, layerAt, mergeLayers, readLayers } from './layers.js'
import { missingModule } from './module-files.js'

export type { Config } from './schema.js'

/**
 * Reads, parses and validates a config file. Throws one `ConfigError` that
 * names the file, line, column and key of the first mistake; returns a deeply
 * frozen config with every relative path resolved against the file's folder
 * (and `SWITCHYARD_NODE_ID` from `env` applied, see environment.ts). A
 * function's module file that is not there is such a mistake.
 */
export function loadConfig(file: string, env: NodeJS.ProcessEnv = process.env): Config {
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch (err) {
    const reason = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'does not exist' : 'cannot be read'
    throw new ConfigError('SY_CONFIG_READ', `the config file ${reason} (${(err as Error).message})`, { file }, { cause: err })
  }
  return parse(text, file, env, true)
}

/**
 * Like `loadConfig`, for text already in hand; `file` is used in messages and
 * to resolve paths. A file with `extends:` is read on top of the file it
 * names (layers.ts); a mistake is reported in the file that made it. The
 * files the text names are not looked for: it may be meant for another
 * machine, as the config of an image is.
 */
export function parseConfig(text: string, file: string, env: NodeJS.ProcessEnv = process.env): Config {
  return parse(text, file, env, false)
}

function parse(text: string, file: string, env: NodeJS.ProcessEnv, checkFiles: boolean): Config {
  const layers = readLayers(text, file)
  const raw = layers.length === 1 ? layers[0]!.raw : mergeLayers(layers)
  const result = checkedConfigSchema.safeParse(raw)
  if (!result.success) {
    const issue = result.error.issues[0]!
    const path = issue.path.map((p) => (typeof p === 'symbol' ? String(p) : p))
    const layer = layerAt(layers, issue.code === 'unrecognized_keys' ? [...path, issue.keys[0]!] : path)
    throw issueToError(issue, layer.doc, layer.lines, layer.file, layer.text)
  }
  const config = resolvePaths(applyEnvironment(result.data, env, file), dirname(resolve(file)))
  const missing = checkFiles ? missingModule(config.functions) : undefined
  if (missing) {
    const path = ['functions', missing.name, 'module']
    const layer = layerAt(layers, path)
    throw new ConfigError('SY_CONFIG_INVALID', missing.problem, { file: layer.file, ...valuePosition(layer.doc, path, layer.lines), key: formatKey(path) })
  }
  return deepFreeze(config)
}

function issueToError(issue: z.core.$ZodIssue, doc: Document, lines: LineCounter, file: string, text: string): ConfigError {
  let path = issue.path.map((p) => (typeof p === 'symbol' ? String(p) : p))
  let message = issue.message
  if (issue.code === 'unrecognized_keys') {
    const unknown = issue.keys[0]!
    // `extends` is read before the schema (layers.ts), which so does not list it.
    message = `is not a known key${describeKnownKeys(configSchema, path)}`
    if (path.length === 0) message = message.replace(/\)$/, `, ${EXTENDS_KEY})`)
    path = [...path, unknown]
    const at = keyPosition(doc, path, lines)
    return new ConfigError('SY_CONFIG_INVALID', message, { file, ...at, key: formatKey(path) })
  }
  if (issue.code === 'invalid_type' && !doc.hasIn(path)) message = 'is required'
  // A mistake inside a value with its own syntax (SQL) points into the value.
  const inValue = issue.code === 'custom' ? (issue.params as { valueColumn?: unknown } | undefined)?.valueColumn : undefined
  if (typeof inValue === 'number') {
    const node = doc.getIn(path, true)
    const offset = isScalar(node) ? offsetInScalar(text, node, inValue - 1) : undefined
    if (offset !== undefined) {
      const pos = lines.linePos(offset)
      return new ConfigError('SY_CONFIG_INVALID', message, { file, line: pos.line, column: pos.col, key: formatKey(path) })
    }
  }
  const at = valuePosition(doc, path, lines)
  return new ConfigError('SY_CONFIG_INVALID', message, { file, ...at, key: formatKey(path) })
}

export type PathPart = string | number

/** The position of the value at `path`, or of the nearest ancestor that exists. */
export function valuePosition(doc: Document, path: PathPart[], lines: LineCounter): { line?: number; column?: number } {
  for (let n = path.length; n >= 0; n--) {
    const node = n === 0 ? doc.contents : doc.getIn(path.slice(0, n), true)
    if (node && typeof node === 'object' && 'range' in node && (node as Node).range) {
      const pos = lines.linePos((node as Node).range![0])
      return { line: pos.line, column: pos.col }
    }
  }
  return {}
}

/** The position of the key itself (for unknown keys, the value may be empty). */
function keyPosition(doc: Document, path: PathPart[], lines: LineCounter): { line?: number; column?: number } {
  const parent = path.length > 1 ? doc.getIn(path.slice(0, -1), true) : doc.contents
  const name = path[path.length - 1]
  if (isMap(parent)) {
    for (const pair of parent.items) {
      if (isScalar(pair.key) && pair.key.value === name && pair.key.range) {
        const pos = lines.linePos(pair.key.range[0])
        return { line: pos.line, column: pos.col }
      }
    }
  }
  return valuePosition(doc, path, lines)
}

/** `listen.mqtt`, `rules[2].sql`. */
export function formatKey(path: readonly PathPart[]): string {
  let out = ''
  for (const part of path) out += typeof part === 'number' ? `[${part}]` : out === '' ? part : `.${part}`
  return out
}

function resolvePaths(config: Config, base: string): Config {
  const sqlite = config.storage.sqlite
  const resolved = sqlite === ':memory:' || isAbsolute(sqlite) ? sqlite : resolve(base, sqlite)
  const functions = Object.fromEntries(Object.entries(config.functions).map(([name, fn]) =>
    [name, 'module' in fn ? { ...fn, module: resolve(base, fn.module) } : fn]))
  const tls = config.tls && {
    cert: resolve(base, config.tls.cert),
    key: resolve(base, config.tls.key),
    ...(config.tls.ca !== undefined ? { ca: resolve(base, config.tls.ca) } : {}),
  }
  const jwt = config.auth.jwt
  const auth = jwt?.secretFile !== undefined ? { ...config.auth, jwt: { ...jwt, secretFile: resolve(base, jwt.secretFile) } } : config.auth
  return { ...config, storage: { ...config.storage, sqlite: resolved }, functions, auth, ...(tls ? { tls } : {}) }
}

/** Freezes the plain data of the config; compiled parts (queries, templates) keep their own state. */
function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    const proto = Object.getPrototypeOf(value) as unknown
    if (proto !== Object.prototype && proto !== Array.prototype && proto !== null) return value
    Object.freeze(value)
    for (const child of Object.values(value)) deepFreeze(child)
  }
  return value
}
