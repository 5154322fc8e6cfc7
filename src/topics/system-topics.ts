import { invalidTopicName } from './match.js'

/**
 * Topics starting with `$` belong to the server: MQTT 3.1.1 section 4.7.2
 * reserves them for its own use ("Applications cannot use a topic with a
 * leading $ character for their own purposes"). Switchyard publishes its
 * lifecycle events, dead letters and loop reports there, and rules act on
 * `$events/presence/...` as the broker's word. A rule or a function that
 * takes its topic from a message would lend that voice to whoever sent the
 * message, so publishing there needs the config's explicit consent.
 */
export function isSystemTopic(topic: string): boolean {
  return topic.charCodeAt(0) === 36 /* $ */
}

/**
 * Why the router may not publish to `topic` on behalf of a rule or a
 * function, or undefined when it may: a topic that is not a valid topic
 * name, or a `$` topic without `allowSystem`. `consent` names the setting
 * that would allow it, for the message.
 */
export function refusedPublishTopic(topic: string, allowSystem: boolean, consent: string): string | undefined {
  const invalid = invalidTopicName(topic)
  if (invalid) return invalid
  if (!allowSystem && isSystemTopic(topic)) return `a topic starting with $ is the broker's own; add ${consent} to publish there`
  return undefined
}
