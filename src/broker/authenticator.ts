import { createPublicKey, createSecretKey, type KeyObject } from 'node:crypto'
import { jwtVerify } from 'jose'
import type { AuthConfig } from './auth-schema.js'
import { verifyPassword } from './passwords.js'

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
  readonly #jwtKey: KeyObject | undefined
  readonly #jwt: AuthConfig['jwt']

  constructor(config: AuthConfig) {
    this.#users = new Map(config.users.map((u) => [u.username, u.password]))
    this.#jwt = config.jwt
    this.#jwtKey = config.jwt?.secret !== undefined ? createSecretKey(Buffer.from(config.jwt.secret))
      : config.jwt?.publicKey !== undefined ? createPublicKey(config.jwt.publicKey) : undefined
    this.#anonymous = config.anonymous ?? (this.#users.size === 0 && !config.jwt)
    this.#open = this.#users.size === 0 && !config.jwt && this.#anonymous
  }

  /** Whether an accepted client's username is one authentication vouched for: not while every client may connect as it says it is. */
  get verifiesUsernames(): boolean {
    return !this.#open
  }

  async check(username: string | undefined, password: Buffer | undefined): Promise<AuthResult> {
    if (this.#open) return { ok: true, username }
    const secret = password?.toString('utf8')
    if (username !== undefined && this.#users.has(username)) {
      if (secret !== undefined && (await verifyPassword(secret, this.#users.get(username)!))) return { ok: true, username }
      return { ok: false, reason: 'wrong password' }
    }
    if (this.#jwtKey && secret !== undefined && secret.split('.').length === 3) {
      try {
        const { payload } = await jwtVerify(secret, this.#jwtKey, {
          ...(this.#jwt?.audience ? { audience: this.#jwt.audience } : {}),
          ...(this.#jwt?.issuer ? { issuer: this.#jwt.issuer } : {}),
        })
        const claim = payload[this.#jwt!.usernameClaim]
        const subject = typeof claim === 'string' ? claim : undefined
        // MQTT 3.1.1 sends a password only with a username, which may be
        // anything here: the token's claim says who the client is.
        return { ok: true, username: subject ?? username }
      } catch (err) {
        return { ok: false, reason: `invalid token: ${(err as Error).message}` }
      }
    }
    if (!username && secret === undefined && this.#anonymous) return { ok: true, username: undefined }
    return { ok: false, reason: username ? 'unknown user' : 'anonymous clients are not allowed' }
  }
}
