import { z } from 'zod'
import { ActionError } from '../errors.js'
import { nextHop } from '../publisher/lineage.js'
import type { Published } from '../publisher/publisher.js'
import { isSystemTopic, refusedPublishTopic } from '../topics/system-topics.js'
import type { ActionEvent, ActionKind, Template } from './action.js'
import { describeBytes } from './output-bytes.js'
import { templateString } from './template-string.js'

const schema = z.strictObject({
  topic: templateString,
  /** The payload; when absent, the rule's SELECT output as JSON, or the payload's bytes for `SELECT *` of one that is not JSON (as on AWS IoT). */
  payload: templateString.optional(),
  qos: z.union([z.literal(0), z.literal(1), z.literal(2)], { error: 'must be 0, 1 or 2' }).default(0),
  retain: z.boolean({ error: 'must be true or false' }).default(false),
  /**
   * Whether the topic may start with `$`, the broker's own topics (see
   * system-topics.ts). Off by default: a topic filled in from a message
   * must not let its sender forge `$events/...`.
   */
  allowSystemTopics: z.boolean({ error: 'must be true or false' }).default(false),
}).refine((c) => c.allowSystemTopics || !startsWithSystemText(c.topic), {
  path: ['topic'],
  message: "starts with $, a topic of the broker's own: add allowSystemTopics: true to publish there",
})

export type RepublishConfig = z.output<typeof schema>

/** Publishes through the broker, so subscribers and other rules see it. */
export const republish: ActionKind<RepublishConfig> = {
  schema,
  create(config, deps) {
    const { topic, payload } = config
    const consent = 'allowSystemTopics: true to the republish action'
    const render = (event: ActionEvent) => ({
      topic: event.fill(topic),
      payload: payload ? event.fill(payload) : wholeOutput(event),
    })
    // A republish is one publish, and runs for every message its rule passes: `send` makes no promise.
    const send = (event: ActionEvent, done: Published) => {
      const message = render(event)
      const invalid = refusedPublishTopic(message.topic, config.allowSystemTopics, consent)
      if (invalid) return done(new ActionError(`cannot republish to "${message.topic}": ${invalid}`, false))
      // Payloads are never changed once published: the original's bytes can be shared.
      const bytes = typeof message.payload === 'string' ? Buffer.from(message.payload) : message.payload
      deps.publisher.send({ topic: message.topic, payload: bytes, qos: config.qos, retain: config.retain }, nextHop(event.lineage), event, done)
    }
    return {
      kind: 'republish',
      send,
      run: (event) => new Promise((resolve, reject) => send(event, (err) => (err ? reject(err) : resolve()))),
      describe(event) {
        const { topic, payload } = render(event)
        return { kind: 'republish', topic, ...(typeof payload === 'string' ? { payload } : describeBytes('payload', payload)), qos: config.qos, retain: config.retain }
      },
    }
  },
}

/**
 * True when the template's own text (before any `${...}`) starts with `$`,
 * so that every topic it makes is a `$` topic: a config mistake, caught
 * when the config loads rather than at the first message.
 */
function startsWithSystemText(topic: Template): boolean {
  return isSystemTopic(topic.source) && !topic.source.startsWith('${')
}

/**
 * The SELECT output as a message: the payload's own bytes when the output is
 * the payload itself (`SELECT *`), which is either its JSON document (not
 * written out again: it keeps its spacing and its numbers' digits) or, for
 * a payload that is not one, its bytes. Either way the bytes are the
 * payload's, so the output is not read: for `SELECT *` without WHERE that
 * would parse the payload only to tell which (see RuleEvent). Else
 * `outputPayload`.
 */
export function wholeOutput(event: ActionEvent): Buffer | string {
  return event.outputIsPayload ? event.payload : outputPayload(event.output)
}

/** The SELECT output as the payload of a message: JSON, a string as is, or bytes (`SELECT *` of a payload that is not JSON) as they are. */
export function outputPayload(output: unknown): string | Buffer {
  if (typeof output === 'string' || Buffer.isBuffer(output)) return output
  return JSON.stringify(output ?? null)
}

