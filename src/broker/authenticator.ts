import type { AuthConfig } from './auth-schema.js'
import { BUSY, HashGate } from './hash-gate.js'
import { LoginThrottle, type Lock } from './login-throttle.js'
import { dummyHash, verifyPassword } from './passwords.js'
import { sourceOf } from './source-address.js'
import { TokenVerifier } from './token-verifier.js'

/**
 * Why a client was refused, as `switchyard_connections_refused_total{reason}`
 * counts it: wrong credentials, a bad token, too many failed logins, or no
 * room to check a password now.
 */
export type Refusal = 'credentials' | 'token' | 'throttled' | 'busy'

export type AuthResult =
  | { ok: true; username: string | undefined }
  | { ok: false; refusal: Refusal; reason: string; locks?: Lock[] }

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
  readonly #throttle: LoginThrottle
  readonly #hashes: HashGate

  constructor(config: AuthConfig) {
    this.#users = new Map(config.users.map((u) => [u.username, u.password]))
    this.#tokens = config.jwt ? new TokenVerifier(config.jwt) : undefined
    this.#anonymous = config.anonymous ?? (this.#users.size === 0 && !config.jwt)
    this.#open = this.#users.size === 0 && !config.jwt && this.#anonymous
    this.#throttle = new LoginThrottle(config.loginThrottle)
    this.#hashes = new HashGate(config.passwordChecks.concurrency, config.passwordChecks.queueSize)
    // Made now, while the broker starts, so that the first unknown username
    // costs one hash like any other. With the cost of the first user's hash,
    // which `switchyard passwd` gives them all.
    if (!this.#open) {
      this.#dummy = dummyHash(this.#users.values().next().value)
      // Awaited (and any failure seen) where it is used.
      this.#dummy.catch(() => {})
    }
  }

  /** Whether an accepted client's username is one authentication vouched for: not while every client may connect as it says it is. */
  get verifiesUsernames(): boolean {
    return !this.#open
  }

  /** `address` is the client's, which failed logins are counted by. */
  async check(username: string | undefined, password: Buffer | undefined, address?: string): Promise<AuthResult> {
    if (this.#open) return { ok: true, username }
    const secret = password?.toString('utf8')
    const hash = username === undefined ? undefined : this.#users.get(username)
    if (hash === undefined && this.#tokens && secret !== undefined && TokenVerifier.looksLikeToken(secret)) {
      // MQTT 3.1.1 sends a password only with a username, which may be
      // anything here: the token's claim says who the client is. Tokens are
      // not throttled: a signature check costs no hash, and a key of 256
      // bits cannot be guessed.
      const result = await this.#tokens.verify(secret)
      return result.ok ? result : { ...result, refusal: 'token' }
    }
    if (username !== undefined && secret !== undefined) return this.#checkPassword(username, secret, hash, address)
    if (!username && secret === undefined && this.#anonymous) return { ok: true, username: undefined }
    return { ok: false, refusal: 'credentials', reason: hash !== undefined ? 'no password' : username ? 'unknown user' : 'anonymous clients are not allowed' }
  }

  async #checkPassword(username: string, secret: string, hash: string | undefined, address: string | undefined): Promise<AuthResult> {
    const source = sourceOf(address)
    const admission = this.#throttle.admit(username, source)
    // Refused before the hash, whatever the password: a lock that let the
    // right password through would only slow the guessing down by a hash.
    if (!admission.ok) return { ok: false, refusal: 'throttled', reason: admission.reason }
    const { ticket } = admission
    let right: boolean | typeof BUSY
    try {
      // An unknown username costs the hash a known one does: refused at
      // once (1.2 ms against 76 ms), one try told whether a username
      // exists. So does a password where no users are configured, so that
      // the time does not tell whether there are any.
      right = await this.#hashes.run(source, async () => verifyPassword(secret, hash ?? (await this.#dummy!)))
    } catch (err) {
      ticket.abandoned()
      throw err
    }
    if (right === BUSY) {
      ticket.abandoned()
      return { ok: false, refusal: 'busy', reason: 'too many password checks waiting' }
    }
    if (right && hash !== undefined) {
      ticket.succeeded()
      return { ok: true, username }
    }
    return { ok: false, refusal: 'credentials', reason: hash === undefined ? 'unknown user' : 'wrong password', locks: ticket.failed() }
  }
}
