import type { AuthConfig } from './auth-schema.js'
import { dummyHash, verifyPassword } from './passwords.js'
import { TokenVerifier } from './token-verifier.js'

export type AuthResult =
  | { ok: true; username: string | undefined }
  | { ok: false; reason: string }

/**
 * Decides who may connect: a configured user with the right password, a
 * client whose password is a valid JWT (the username comes from its claim),
 * or, when allowed, a client that gives no username at all.
 */
export class Authenticator {
  readonly #users: Map<string, string>
  readonly #anonymous: boolean
  /** No users and no tokens configured: every client may connect, as it says it is. */
  readonly #open: boolean
  readonly #tokens: TokenVerifier | undefined
  /** Checked in the place of a user's hash for an unknown username. */
  readonly #dummy: Promise<string> | undefined

  constructor(config: AuthConfig) {
    this.#users = new Map(config.users.map((u) => [u.username, u.password]))
    this.#tokens = config.jwt ? new TokenVerifier(config.jwt) : undefined
    this.#anonymous = config.anonymous ?? (this.#users.size === 0 && !config.jwt)
    this.#open = this.#users.size === 0 && !config.jwt && this.#anonymous
    // Made now, while the broker starts, so that the first unknown username
    // costs one hash like any other. With the cost of the first user's hash,
    // which `switchyard passwd` gives them all.
    if (!this.#open) {
      this.#dummy = dummyHash(this.#users.values().next().value)
      // Awaited (and any failure seen) where it is used.
      this.#dummy.catch(() => {})
    }
  }

  async check(username: string | undefined, password: Buffer | undefined): Promise<AuthResult> {
    if (this.#open) return { ok: true, username }
    const secret = password?.toString('utf8')
    const hash = username === undefined ? undefined : this.#users.get(username)
    if (hash !== undefined) {
      if (secret !== undefined && (await verifyPassword(secret, hash))) return { ok: true, username }
      return { ok: false, reason: 'wrong password' }
    }
    if (this.#tokens && secret !== undefined && TokenVerifier.looksLikeToken(secret)) {
      // MQTT 3.1.1 sends a password only with a username, which may be
      // anything here: the token's claim says who the client is.
      return this.#tokens.verify(secret)
    }
    if (username !== undefined && secret !== undefined) {
      // An unknown username costs the hash a known one does: refused at once
      // (1.2 ms against 76 ms), one try told whether a username exists. So
      // does a password where no users are configured, so that the time
      // does not tell whether there are any.
      await verifyPassword(secret, await this.#dummy!)
      return { ok: false, reason: 'unknown user' }
    }
    if (!username && secret === undefined && this.#anonymous) return { ok: true, username: undefined }
    return { ok: false, reason: username ? 'unknown user' : 'anonymous clients are not allowed' }
  }
}
