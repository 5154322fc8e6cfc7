/** Who holds a client id: the user who connected with it, and whether its session outlives the connection. */
export interface SessionOwner {
  /** The authenticated username; null for an anonymous client. */
  username: string | null
  /** True for a persistent session (CleanSession=0): the binding outlives the connection. */
  persistent: boolean
  /** The connection that holds it now: only that connection's end releases a clean session's binding. */
  connection: string
}

export type ClaimResult = { ok: true } | { ok: false; owner: string | null }

/**
 * Which user each client id belongs to, shared by every process that serves
 * clients. A client id is bound to the user of the connection that made its
 * session: a connection of another user may not take it over (its queued
 * messages, its will, the owner's live connection), unless it is allowed to
 * (`force`). A clean session's binding lasts as long as its connection; a
 * persistent session's as long as the session.
 */
export interface SessionOwnerStore {
  /** Binds `clientId` to `owner` unless another user holds it (and `force` is false); one atomic step. */
  claim(clientId: string, owner: SessionOwner, force: boolean): Promise<ClaimResult>
  /** The end of connection `connection`: a clean session's binding goes, if that connection still holds it. */
  release(clientId: string, connection: string): Promise<void>
  /** Drops the clean-session bindings of these client ids (connections that ended without telling: a dead node's). */
  dropClean(clientIds: readonly string[]): Promise<void>
  /** Drops every clean-session binding: at the start of a process that is the only one serving clients. */
  dropAllClean(): Promise<void>
  /**
   * Drops a persistent session's binding, once the session itself is gone
   * (expired or cleaned), and resolves with it. Given `connection`, only
   * the binding that connection made goes: a later connection's is a new
   * session's, made after the old one was gone.
   */
  forget(clientId: string, connection?: string): Promise<SessionOwner | undefined>
  /** The binding of a client id, if any. */
  ownerOf(clientId: string): Promise<SessionOwner | undefined>
}
