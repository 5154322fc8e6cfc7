/**
 * Shared subscriptions, `$share/{group}/{filter}`: MQTT 5's form
 * (MQTT 5.0, 4.8.2), which EMQX, HiveMQ, Mosquitto 2 and AWS IoT also take
 * from MQTT 3.1.1 clients. Each message that matches `filter` goes to one
 * member of `group`.
 */
export interface SharedFilter {
  /** The filter as the client wrote it, `$share/{group}/{filter}`: the subscription's name. */
  readonly key: string
  readonly group: string
  readonly filter: string
}

const PREFIX = '$share/'

/**
 * The parts of a shared subscription's filter; undefined for an ordinary
 * filter; a sentence saying what is wrong with a malformed one. The group
 * name is at least one character and holds no `/`, `+` or `#`, and a topic
 * filter follows it [MQTT-5 4.8.2].
 */
export function parseSharedFilter(topic: string): SharedFilter | string | undefined {
  if (!topic.startsWith(PREFIX)) return topic === '$share' ? 'a shared subscription is $share/{group}/{filter}' : undefined
  const rest = topic.slice(PREFIX.length)
  const slash = rest.indexOf('/')
  if (slash < 0) return 'a shared subscription is $share/{group}/{filter}: the filter is missing'
  const group = rest.slice(0, slash)
  const filter = rest.slice(slash + 1)
  if (group === '') return 'the group name of a shared subscription must not be empty'
  if (/[+#]/.test(group)) return 'the group name of a shared subscription must not hold + or #'
  if (filter === '') return 'a shared subscription is $share/{group}/{filter}: the filter is empty'
  return { key: topic, group, filter }
}
