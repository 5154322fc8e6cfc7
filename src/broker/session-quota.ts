import type { AuthenticateError, Client } from 'aedes'
import type { Logger } from 'pino'
import type { SessionStore } from '../storage/session-store.js'
import type { ConnectionInfo } from './connection-info.js'
import type { Limits } from './limits.js'
import { clipped } from './refusal-log.js'

/** CONNACK return codes of MQTT 3.1.1 [MQTT-3.2.2.3]. */
const SERVER_UNAVAILABLE = 3 as const
const NOT_AUTHORIZED = 5 as const

/**
 * Whose a persistent session is, for `limits.sessions.maxPerUser`: the
 * user's, when authentication vouched for the username; otherwise (an
 * anonymous client, or any client while every client may connect as it
 * says it is) the network address'. One bucket for every anonymous client
 * would let one of them take every session there is; a username nobody
 * checked could be changed at each CONNECT to get a fresh bucket.
 */
export function sessionOwner(info: Pick<ConnectionInfo, 'username' | 'ipAddress'> | undefined, usernamesVerified: boolean): string {
  if (usernamesVerified && info?.username !== undefined) return `user:${info.username}`
  return `address:${info?.ipAddress ?? 'unknown'}`
}

export interface SessionAdmission {
  persistence: Pick<SessionStore, 'claimSession' | 'releaseSession' | 'markDisconnected'>
  limits: Limits
  log: Logger
  /** Whether authentication checks usernames (false while every client may connect as it says it is). */
  usernamesVerified: boolean
}

/**
 * The last step of authentication: a CONNECT with CleanSession=0 records
 * its session for its owner, and is refused with CONNACK 5 (not
 * authorized: MQTT 3.1.1 has no code for a quota) when that would give the
 * owner more than `maxPerUser`; a session it holds already always resumes.
 * A clean CONNECT ends the client id's persistent session [MQTT-3.1.2-6],
 * and with it its record.
 *
 * The connection holds the session it recorded until it ends, however it
 * ends (a DISCONNECT, a lost socket, a takeover, a CONNECT that fails
 * after this step): then the session waits for its client, and
 * `limits.sessionExpiry` counts from then.
 */
export function admitSession(deps: SessionAdmission, client: Client, info: ConnectionInfo | undefined, done: (err: AuthenticateError | null, ok: boolean) => void): void {
  if (!info || info.cleanSession) {
    // Answered from memory when there is no record: a clean CONNECT costs no write.
    deps.persistence.releaseSession(client.id).catch((err: unknown) => deps.log.warn({ err, clientId: client.id }, 'could not forget the record of a persistent session'))
    return done(null, true)
  }
  const max = deps.limits.config.sessions.maxPerUser
  const owner = sessionOwner(info, deps.usernamesVerified)
  const connection = info.connection
  deps.persistence.claimSession(client.id, owner, max, connection).then((ok) => {
    if (ok) {
      whenEnded(client, () => {
        deps.persistence.markDisconnected(client.id, connection).catch((err: unknown) => deps.log.warn({ err, clientId: client.id }, 'could not record that the client of a persistent session left'))
      })
      return done(null, true)
    }
    deps.limits.breached('sessions_per_user', `persistent session refused: ${clipped(owner)} holds ${max} already (limits.sessions.maxPerUser); CONNACK 5`, { clientId: clipped(client.id), owner: clipped(owner) })
    done(Object.assign(new Error(`${owner} holds the most persistent sessions allowed (${max})`), { returnCode: NOT_AUTHORIZED }), false)
  }, (err: unknown) => {
    deps.log.error({ err, clientId: client.id }, 'could not record a persistent session; connection refused (CONNACK 3)')
    done(Object.assign(new Error('the session store is unavailable'), { returnCode: SERVER_UNAVAILABLE }), false)
  })
}

/** Calls `ended` once, when the client's connection has closed (now, if it has already). */
function whenEnded(client: Client, ended: () => void): void {
  if (client.closed || client.conn.destroyed) return ended()
  client.conn.once('close', ended)
}
