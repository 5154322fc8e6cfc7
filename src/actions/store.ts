import { z } from 'zod'
import { duration } from '../duration.js'
import type { ActionKind } from './action.js'
import { checkJsonDocument, DOCUMENT } from '../sql/json-document.js'
import { jsonOutput } from './output-bytes.js'
import { templateString } from './template-string.js'

const schema = z.strictObject({
  table: z.string({ error: 'must be a table name' }).regex(/^[A-Za-z_][A-Za-z0-9_-]{0,63}$/, 'must be a name of letters, digits, _ and - (up to 64)'),
  /** Groups events for reading back, e.g. the chat room: `${topic(3)}`. */
  key: templateString.optional(),
  /** How long events are kept; forever when absent. */
  ttl: duration.optional(),
  /**
   * The most rows the table keeps, the oldest deleted first (0: no limit);
   * `limits.store.maxRows` when absent.
   */
  maxRows: z.number({ error: 'must be a whole number of rows (0 for no limit)' }).int('must be a whole number of rows (0 for no limit)').min(0, 'must not be negative (0 for no limit)').optional(),
})

export type StoreConfig = z.output<typeof schema>

/**
 * How deep a payload's arrays and objects may nest for its text to be kept
 * as published. Far below where JSON.stringify runs out of stack (many
 * thousands of levels), so that a document it could not write out, which
 * the store refuses (and reading it back would fail), still takes that path.
 */
const MAX_KEPT_NESTING = 512

/**
 * The text of a payload that `SELECT *` outputs as its JSON document, to
 * keep as the data's JSON as published: checked against JSON's grammar, not
 * parsed, so the document itself is made only if something else reads it.
 * Undefined when the payload is not a JSON document (its output is then
 * its bytes), or nests deeper than MAX_KEPT_NESTING.
 */
function payloadJson(payload: Buffer): string | undefined {
  return checkJsonDocument(payload, MAX_KEPT_NESTING) === DOCUMENT ? payload.toString('utf8') : undefined
}

/**
 * Appends the event (the rule's SELECT output) to a table of the event log
 * (SQLite, or a cluster's Redis). Its data is JSON: `SELECT *` of a JSON
 * payload keeps the text published, and of a payload that is not JSON the
 * base64 string of its bytes.
 */
export const store: ActionKind<StoreConfig> = {
  schema,
  create(config, deps) {
    const { key } = config
    return {
      kind: 'store',
      // Not async: the append's promise is its batch's, shared with the other events of the turn.
      run(event) {
        const dataJson = event.outputIsPayload ? payloadJson(event.payload) : undefined
        return deps.events.append({
          table: config.table,
          key: key ? event.fill(key) : null,
          timestamp: event.timestamp,
          topic: event.topic,
          clientId: event.clientId ?? null,
          data: dataJson === undefined ? jsonOutput(event.output) : undefined,
          dataJson,
          expiresAt: config.ttl === undefined ? null : event.timestamp + config.ttl,
          maxRows: config.maxRows,
        })
      },
      describe(event) {
        return {
          kind: 'store',
          table: config.table,
          key: key ? event.fill(key) : null,
          ...(config.ttl === undefined ? {} : { expiresAt: event.timestamp + config.ttl }),
          data: jsonOutput(event.output),
        }
      },
    }
  },
}
