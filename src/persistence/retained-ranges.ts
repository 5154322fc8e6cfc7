/** A range of topics, `from` included and `to` excluded; `to` null runs to the end. */
export interface TopicRange {
  from: string
  to: string | null
}

/**
 * The range of retained topics that can match a filter with a wildcard, so
 * a SUBSCRIBE to `sensors/+/temp` reads the `sensors` rows, not the table.
 *
 * Every match of `a/+` or `a/#` starts with `a/`, or is `a` alone (`a/#`
 * matches its parent, MQTT 3.1.1 section 4.7.1.2): the range from `a` up to
 * `a0` holds both, since '0' is the character after '/'. It holds a few
 * others too (`a-b`, `a.b`), which the caller's matcher drops. A filter that
 * starts with a wildcard needs the whole table. The bounds hold under
 * SQLite's byte-wise BINARY collation whatever the characters in the prefix,
 * since the bound differs from every match at an ASCII character.
 */
export function topicRange(filter: string): TopicRange {
  const plus = filter.indexOf('+')
  const hash = filter.indexOf('#')
  const wildcard = plus === -1 ? hash : hash === -1 ? plus : Math.min(plus, hash)
  const end = filter.lastIndexOf('/', wildcard - 1)
  if (wildcard <= 0 || end < 0) return { from: '', to: null }
  const prefix = filter.slice(0, end)
  return { from: prefix, to: `${prefix}0` }
}

export function hasWildcard(filter: string): boolean {
  return filter.includes('+') || filter.includes('#')
}
