import type { Action, ActionEvent } from '../actions/action.js'
import { ActionError } from '../errors.js'

/**
 * What a rule's errorAction receives when one of its actions fails: the
 * document AWS IoT sends to an error action, with the original payload both
 * as base64 (as on AWS) and, when it is JSON, as itself.
 */
export function errorDocument(rule: string, event: ActionEvent, failed: Action, err: Error) {
  return {
    ruleName: rule,
    topic: event.topic,
    clientId: event.clientId ?? null,
    timestamp: event.timestamp,
    base64OriginalPayload: event.payload.toString('base64'),
    originalPayload: jsonOrText(event.payload),
    failures: [
      {
        failedAction: failed.kind,
        failedResource: describeResource(failed, event),
        errorMessage: err.message,
        retryable: err instanceof ActionError ? err.retryable : false,
      },
    ],
  }
}

function describeResource(action: Action, event: ActionEvent): string {
  try {
    const d = action.describe(event)
    return String(d.url ?? d.topic ?? d.table ?? d.target ?? action.kind)
  } catch {
    return action.kind
  }
}

/**
 * The payload parsed when it is JSON, else as text. A JSON payload nested
 * too deeply to be written out again (JSON.parse takes any depth,
 * JSON.stringify does not) is left out: the document must reach the
 * errorAction, and base64OriginalPayload still carries it.
 */
function jsonOrText(payload: Buffer): unknown {
  const text = payload.toString('utf8')
  let value: unknown
  try {
    value = JSON.parse(text) as unknown
  } catch {
    return text
  }
  if (typeof value === 'object' && value !== null) {
    try {
      JSON.stringify(value)
    } catch {
      return undefined
    }
  }
  return value
}
