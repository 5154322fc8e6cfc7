import type { Client } from 'aedes'
import type { ClaimResult, SessionOwnerStore } from '../storage/session-owner-store.js'
import type { ClientIdRules } from './client-id-rules.js'
import { newConnectionId } from './connection-info.js'

export type Admission = { ok: true } | { ok: false; reason: string; code: 'client_id' | 'session_owner' | 'unavailable' }

/**
 * A client id belongs to the user who connected with it: the connection of
 * another user may not take its session over (its queued messages, its
 * will, its owner's live connection), unless a `connect` entry of the ACL
 * with `takeover: true` lets that user. The binding lasts as long as the
 * session: a clean session's until its connection ends, a persistent
 * session's until the session is gone. Anonymous clients are one user to
 * each other; without authentication the username is what the client says,
 * so the binding then guards against mistakes, not against attackers.
 */
export class ClientIdentity {
  readonly #owners: SessionOwnerStore
  readonly #rules: ClientIdRules
  /** The binding each connection made, which only its own end releases. */
  readonly #bindings = new WeakMap<Client, string>()

  constructor(owners: SessionOwnerStore, rules: ClientIdRules) {
    this.#owners = owners
    this.#rules = rules
  }

  /**
   * Decides whether `username` may connect as `client.id`, and binds the id
   * to it when so, for the connection named `connection` (the id its
   * persistent session knows it by: an expired session forgets only the
   * binding its own connection made).
   */
  async admit(client: Client, username: string | undefined, persistent: boolean, connection: string = newConnectionId()): Promise<Admission> {
    const decision = this.#rules.decide(client.id, username)
    if (!decision.allowed) return { ok: false, code: 'client_id', reason: 'the ACL does not allow this client id for this user' }
    const owner = username ?? null
    let claim: ClaimResult
    try {
      claim = await this.#owners.claim(client.id, { username: owner, persistent, connection }, decision.takeover)
    } catch (err) {
      // The store cannot be written (a full disk, a read-only file): a clean
      // session needs nothing kept, so it may go on unless the id is held
      // by another user; a persistent session could not be kept anyway.
      if (persistent) return { ok: false, code: 'unavailable', reason: `the session store cannot record the client id (${(err as Error).message})` }
      const held = await this.#owners.ownerOf(client.id).catch(() => undefined)
      if (held && held.username !== owner && !decision.takeover) return { ok: false, code: 'session_owner', reason: 'the client id belongs to another user\'s session' }
      return { ok: true }
    }
    if (!claim.ok) return { ok: false, code: 'session_owner', reason: 'the client id belongs to another user\'s session' }
    this.#bindings.set(client, connection)
    return { ok: true }
  }

  /** The connection ended (or never completed): its clean session's binding goes. */
  async ended(client: Client): Promise<void> {
    const connection = this.#bindings.get(client)
    if (connection === undefined) return
    this.#bindings.delete(client)
    await this.#owners.release(client.id, connection)
  }
}
