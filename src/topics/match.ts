/**
 * MQTT topic filter matching for one filter against one topic name, per
 * MQTT 3.1.1 section 4.7. The rules engine matches many filters at once with a
 * qlobber trie; this is for the places that check a handful of filters (a
 * client's own subscriptions, an ACL entry) and as the reference in tests.
 */
export function topicMatches(filter: string, topic: string): boolean {
  // [MQTT-4.7.2-1] a filter starting with a wildcard does not match topics starting with '$'
  if (topic.charCodeAt(0) === 36 /* $ */) {
    const first = filter.charCodeAt(0)
    if (first === 43 /* + */ || first === 35 /* # */) return false
  }
  let f = 0
  let t = 0
  const fl = filter.length
  const tl = topic.length
  while (f < fl) {
    const c = filter.charCodeAt(f)
    if (c === 35 /* # */) return true // [MQTT-4.7.1-2] matches the parent and any number of levels
    if (c === 43 /* + */) {
      // '+' consumes exactly one level, which may be empty
      while (t < tl && topic.charCodeAt(t) !== 47 /* / */) t++
      f++
    } else {
      // compare one literal level
      while (f < fl && t < tl) {
        const fc = filter.charCodeAt(f)
        if (fc === 47) break
        if (fc !== topic.charCodeAt(t)) return false
        f++
        t++
      }
      if (f < fl && filter.charCodeAt(f) !== 47) return false
      if (t < tl && topic.charCodeAt(t) !== 47) return false
    }
    // both at a separator or at the end
    if (f === fl) return t === tl
    // filter has a separator
    if (t === tl) {
      // 'a/#' matches 'a': the '#' stands for the parent level too
      return f + 2 === fl && filter.charCodeAt(f + 1) === 35
    }
    f++
    t++
  }
  return t === tl && f === fl
}

/** Why `topic` cannot be published to, or undefined when it can. [MQTT-4.7.3] */
export function invalidTopicName(topic: string): string | undefined {
  if (topic.length === 0) return 'a topic name must not be empty' // [MQTT-4.7.3-1]
  if (topic.includes('+') || topic.includes('#')) return 'a topic name must not contain wildcards' // [MQTT-3.3.2-2]
  if (topic.includes('\u0000')) return 'a topic name must not contain U+0000' // [MQTT-4.7.3-2]
  return undefined
}

/** Why `filter` is not a valid topic filter, or undefined when it is. [MQTT-4.7.1] */
export function invalidTopicFilter(filter: string): string | undefined {
  if (filter.length === 0) return 'a topic filter must not be empty' // [MQTT-4.7.3-1]
  if (filter.includes('\u0000')) return 'a topic filter must not contain U+0000'
  const levels = filter.split('/')
  for (let i = 0; i < levels.length; i++) {
    const level = levels[i]!
    if (level.includes('#') && (level !== '#' || i !== levels.length - 1)) {
      return "'#' must be a whole level and the last one" // [MQTT-4.7.1-2]
    }
    if (level.includes('+') && level !== '+') return "'+' must be a whole level" // [MQTT-4.7.1-3]
  }
  return undefined
}

/** How many levels `topic` (or a filter) has: one more than its `/` separators. */
export function topicLevels(topic: string): number {
  let levels = 1
  for (let i = topic.indexOf('/'); i !== -1; i = topic.indexOf('/', i + 1)) levels++
  return levels
}
