import { createPublicKey, createSecretKey, type KeyObject } from 'node:crypto'
import { jwtVerify, type JWTPayload } from 'jose'
import type { AuthConfig } from './auth-schema.js'

export type JwtConfig = NonNullable<AuthConfig['jwt']>

export type TokenResult =
  | { ok: true; username: string }
  | { ok: false; reason: string }

/**
 * Checks a JWT sent as the MQTT password. jose checks the signature,
 * `aud`, `iss`, `nbf` and `exp`; what is checked here is what Switchyard
 * takes from the token: who the client is, and for how long.
 */
export class TokenVerifier {
  readonly #key: KeyObject
  readonly #config: JwtConfig

  constructor(config: JwtConfig) {
    this.#config = config
    this.#key = config.secret !== undefined ? createSecretKey(Buffer.from(config.secret)) : createPublicKey(config.publicKey!)
  }

  /** A compact JWS has three parts; anything else is a password. */
  static looksLikeToken(secret: string): boolean {
    return secret.split('.').length === 3
  }

  async verify(token: string): Promise<TokenResult> {
    const { audience, issuer, requireExp, usernameClaim } = this.#config
    let payload: JWTPayload
    try {
      ({ payload } = await jwtVerify(token, this.#key, {
        ...(audience ? { audience } : {}),
        ...(issuer ? { issuer } : {}),
        // A token without exp is good forever: anyone who ever copied it keeps a login.
        ...(requireExp ? { requiredClaims: ['exp'] } : {}),
      }))
    } catch (err) {
      return { ok: false, reason: `invalid token: ${(err as Error).message}` }
    }
    // The claim is the client's identity (ACL patterns use it as
    // ${username}): without it the MQTT username, which the client picks,
    // would stand in for it.
    const username = payload[usernameClaim]
    if (typeof username !== 'string' || username === '') {
      return { ok: false, reason: `invalid token: the "${usernameClaim}" claim must be a non-empty string naming the user` }
    }
    const tooLong = this.#lifetimeProblem(payload)
    if (tooLong) return { ok: false, reason: `invalid token: ${tooLong}` }
    return { ok: true, username }
  }

  /**
   * The lifetime a token states, from `iat` (or from now without it, or
   * when `iat` is in the future, which would otherwise let a token dated
   * ahead run on for longer) to `exp`. jose has checked both are numbers.
   */
  #lifetimeProblem(payload: JWTPayload): string | undefined {
    const max = this.#config.maxLifetime
    if (max === 0 || payload.exp === undefined) return undefined
    const now = Date.now()
    const from = Math.min(payload.iat === undefined ? now : payload.iat * 1000, now)
    const lifetime = payload.exp * 1000 - from
    if (lifetime <= max) return undefined
    return `its lifetime of ${Math.round(lifetime / 1000)} s is longer than jwt.maxLifetime (${max / 1000} s)`
  }
}
