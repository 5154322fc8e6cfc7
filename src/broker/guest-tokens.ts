import { createSecretKey, randomBytes, type KeyObject } from 'node:crypto'
import { jwtVerify, SignJWT } from 'jose'

export interface GuestIdentity {
  username: string
  token: string
  /** Milliseconds since the epoch. */
  expiresAt: number
}

const GUEST = /^guest-[0-9a-f]{16}$/

/**
 * Signs the tokens of guest users: each a user of its own, `guest-{16 hex}`,
 * whom the ACL (`${username}`) and principal() tell apart from every other,
 * with no account behind it. A guest who still holds a valid token gets a
 * new one for the same name, so a browser keeps its identity while it comes
 * back within the lifetime.
 */
export class GuestTokens {
  readonly #key: KeyObject
  readonly #claim: string
  readonly #lifetimeMs: number
  readonly #audience: string | undefined
  readonly #issuer: string | undefined

  constructor(options: { secret: string; usernameClaim: string; lifetimeMs: number; audience?: string | undefined; issuer?: string | undefined }) {
    this.#key = createSecretKey(Buffer.from(options.secret))
    this.#claim = options.usernameClaim
    this.#lifetimeMs = options.lifetimeMs
    this.#audience = options.audience
    this.#issuer = options.issuer
  }

  /** A token for a new guest, or for the guest `previous` names when it is a valid guest token. */
  async issue(previous?: string): Promise<GuestIdentity> {
    const username = (previous && (await this.#guestOf(previous))) || `guest-${randomBytes(8).toString('hex')}`
    const expiresAt = Date.now() + this.#lifetimeMs
    let jwt = new SignJWT({ [this.#claim]: username }).setProtectedHeader({ alg: 'HS256' }).setIssuedAt().setExpirationTime(Math.floor(expiresAt / 1000))
    if (this.#audience) jwt = jwt.setAudience(this.#audience)
    if (this.#issuer) jwt = jwt.setIssuer(this.#issuer)
    return { username, token: await jwt.sign(this.#key), expiresAt }
  }

  async #guestOf(token: string): Promise<string | undefined> {
    try {
      const { payload } = await jwtVerify(token, this.#key, { algorithms: ['HS256'] })
      const name = payload[this.#claim]
      return typeof name === 'string' && GUEST.test(name) ? name : undefined
    } catch {
      return undefined
    }
  }
}
