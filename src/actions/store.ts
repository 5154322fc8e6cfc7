import { z } from 'zod'
import { duration } from '../duration.js'
import type { ActionKind } from './action.js'
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
 * Appends the event (the rule's SELECT output) to a table of the event log
 * (SQLite, or a cluster's Redis). Its data is JSON: the bytes of `SELECT *`
 * of a payload that is not JSON are kept as their base64 string.
 */
export const store: ActionKind<StoreConfig> = {
  schema,
  create(config, deps) {
    const { key } = config
    return {
      kind: 'store',
      // Not async: the append's promise is its batch's, shared with the other events of the turn.
      run(event) {
        const output = event.output
        return deps.events.append({
          table: config.table,
          key: key ? event.fill(key) : null,
          timestamp: event.timestamp,
          topic: event.topic,
          clientId: event.clientId ?? null,
          data: jsonOutput(output),
          // `SELECT *` of a JSON payload: the text published is the data's JSON, not written out again.
          dataJson: event.outputIsPayload && !Buffer.isBuffer(output) ? event.payload.toString('utf8') : undefined,
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
