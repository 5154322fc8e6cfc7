import { readFileSync } from 'node:fs'
import { LineCounter, parseDocument } from 'yaml'
import { ListenError } from '../errors.js'
import { formatKey, valuePosition, type PathPart } from './load.js'

/** The line and column of the value at `path` in a config file; undefined when the file does not set it. */
export function locateInFile(file: string, path: readonly PathPart[]): { line: number; column: number } | undefined {
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch {
    return undefined
  }
  const lines = new LineCounter()
  const doc = parseDocument(text, { lineCounter: lines })
  if (doc.errors.length > 0 || !doc.hasIn(path)) return undefined
  const { line, column } = valuePosition(doc, [...path], lines)
  return line === undefined || column === undefined ? undefined : { line, column }
}

/**
 * Names the line of the config that asked for a listener that could not
 * bind (`listen.mqtt` for a port in use), as config mistakes do. The file
 * is read again only then; a default port has no line, and the error stays.
 */
export function placeListenError(err: unknown, file: string | undefined, path: readonly PathPart[]): unknown {
  if (!(err instanceof ListenError) || file === undefined) return err
  const at = locateInFile(file, path)
  if (!at) return err
  return new ListenError(`${file}:${at.line}:${at.column}: ${formatKey(path)}: ${err.message}`, { cause: err.cause })
}
