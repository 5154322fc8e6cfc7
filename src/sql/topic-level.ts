import { pure1, type FunctionDef } from './function-def.js'
import { toText } from './values.js'

/*
 * topicLevel(value): a value made into exactly one topic level, for
 * templates such as `chat/pub/${topicLevel(room)}`. Not an AWS IoT
 * function: AWS inserts `${room}` as it is, so a room named `lobby/../x`
 * adds levels (`chat/pub/lobby/../x`, whose topic(3) is `lobby`), and a
 * `+` or `#` makes the topic unpublishable.
 *
 * The offending characters are percent-encoded as their UTF-8 bytes, so
 * `decodeURIComponent` gives the value back and no two values share a
 * level:
 * - `/` (a level separator), `+` and `#` (wildcards, [MQTT-3.3.2-2]) and
 *   `%` itself, anywhere;
 * - U+0000 ([MQTT-4.7.3-2]) and the other control characters, which topic
 *   names should not hold ([MQTT-1.5.3], U+0001..U+001F, U+007F..U+009F);
 * - `$` first in the level: a topic starting with `$` is the broker's own
 *   (section 4.7.2), and a level may become the start of a topic;
 * - the whole value `.` or `..`, which whatever maps topic levels onto
 *   paths (a bridge to HTTP, files) would read as "here" or "the parent".
 * The empty value becomes `%` alone, which no other value can become (a
 * value's own `%` is always `%25`): an empty level would stand for "no
 * room" where a level is expected. Null and Undefined stay Undefined, as
 * for every string function.
 */

const ESCAPED = /[%/+#\u0000-\u001f\u007f-\u009f]/g
const HAS_ESCAPED = /[%/+#\u0000-\u001f\u007f-\u009f]/

/** `value` as one topic level; see above. */
export function topicLevel(value: string): string {
  if (value === '') return '%'
  if (value === '.') return '%2E'
  if (value === '..') return '%2E%2E'
  // Most values (room names, device ids) need nothing: answer without a copy.
  const level = HAS_ESCAPED.test(value) ? value.replace(ESCAPED, (c) => encodeURIComponent(c)) : value
  return level.charCodeAt(0) === 36 /* $ */ ? `%24${level.slice(1)}` : level
}

export const TOPIC_FUNCTIONS: Record<string, FunctionDef> = {
  topiclevel: pure1((a) => {
    const s = toText(a)
    return s === undefined ? undefined : topicLevel(s)
  }),
}
