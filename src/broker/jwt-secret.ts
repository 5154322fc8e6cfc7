import { randomBytes } from 'node:crypto'
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs'
import { dirname } from 'node:path'
import { ConfigError } from '../errors.js'
import type { AuthConfig } from './auth-schema.js'

/**
 * The auth config with `jwt.secretFile` read into `jwt.secret`. A missing
 * file is made with 32 random bytes (readable by this user only), so that a
 * config kept in version control holds no secret and each install has its
 * own. Every process that checks or signs the tokens (the nodes of a
 * cluster) must read the same file.
 */
export function withJwtSecret(auth: AuthConfig): AuthConfig {
  const file = auth.jwt?.secretFile
  if (!auth.jwt || file === undefined) return auth
  let secret: string
  try {
    secret = readFileSync(file, 'utf8').trim()
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw new ConfigError('SY_CONFIG_INVALID', `cannot read auth.jwt.secretFile ${file}: ${(err as Error).message}`, { file })
    secret = randomBytes(32).toString('base64url')
    mkdirSync(dirname(file), { recursive: true })
    // 'wx': two processes starting at once keep the one written first.
    try {
      writeFileSync(file, `${secret}\n`, { mode: 0o600, flag: 'wx' })
    } catch {
      secret = readFileSync(file, 'utf8').trim()
    }
  }
  if (secret.length < 32) throw new ConfigError('SY_CONFIG_INVALID', `auth.jwt.secretFile ${file} holds ${secret.length} characters; an HS256 secret needs at least 32`, { file })
  return { ...auth, jwt: { ...auth.jwt, secret } }
}
