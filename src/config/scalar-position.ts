import type { Scalar } from 'yaml'

/**
 * Where in the file character `index` (0-based) of a string scalar's value
 * is, so that an error inside a value with its own syntax (a rule's SQL) can
 * name its own line and column. Works for the scalars whose text maps onto
 * their value character for character: plain and quoted ones without
 * escapes, on one line or folded over several, and block scalars (`|`, `>`)
 * without more-indented lines. Undefined for the others; the caller then
 * names the start of the value.
 */
export function offsetInScalar(source: string, node: Scalar, index: number): number | undefined {
  const value = node.value
  if (typeof value !== 'string' || !node.range) return undefined
  const block = node.type === 'BLOCK_LITERAL' || node.type === 'BLOCK_FOLDED'
  const quoted = node.type === 'QUOTE_SINGLE' || node.type === 'QUOTE_DOUBLE'
  let start = node.range[0]
  let text = source.slice(start, node.range[1])
  if (quoted) {
    start += 1
    text = text.slice(1, -1)
  }

  const lines = text.split('\n')
  const segments: Array<{ at: number; text: string }> = []
  let indent: number | undefined
  let offset = start
  lines.forEach((line, i) => {
    const lineStart = offset
    offset += line.length + 1
    if (block && i === 0) return // the header: | or > and its indicators
    const lead = line.length - line.trimStart().length
    if (block) {
      if (indent === undefined && line.trim() !== '') indent = lead
      const cut = Math.min(lead, indent ?? lead)
      segments.push({ at: lineStart + cut, text: line.slice(cut) })
    } else {
      segments.push({ at: lineStart + lead, text: line.slice(lead).trimEnd() })
    }
  })
  while (segments.length > 0 && segments.at(-1)!.text === '') segments.pop()

  // A literal block keeps its line breaks; folding makes each a space.
  const separator = node.type === 'BLOCK_LITERAL' ? '\n' : ' '
  if (segments.map((s) => s.text).join(separator) !== value.replace(/\n+$/, '')) return undefined
  let rest = index
  for (const segment of segments) {
    if (rest <= segment.text.length) return segment.at + rest
    rest -= segment.text.length + 1
  }
  return undefined
}
