import type { Refusal } from './authenticator.js'
import type { Admission } from './client-identity.js'

/** Why a connection was refused: by the authenticator, or for its client id. */
export type RefusalReason = Refusal | Extract<Admission, { ok: false }>['code']

// A record, so that a reason added to either type must be listed here too.
const REASONS: Record<RefusalReason, true> = {
  credentials: true, token: true, throttled: true, busy: true,
  client_id: true, session_owner: true, unavailable: true,
}

/**
 * The `reason` label values of `switchyard_connections_refused_total`, each
 * listed at 0 from the start: a rate or an alert on one then has a series
 * before its first refusal.
 */
export const REFUSAL_REASONS = Object.keys(REASONS) as RefusalReason[]
