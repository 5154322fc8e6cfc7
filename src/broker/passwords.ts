import { randomBytes, scrypt as scryptCb, timingSafeEqual, type ScryptOptions } from 'node:crypto'

const scrypt = (password: string, salt: Buffer, keylen: number, options: ScryptOptions) =>
  new Promise<Buffer>((resolve, reject) => scryptCb(password, salt, keylen, options, (err, key) => (err ? reject(err) : resolve(key))))

export interface ScryptCost {
  N: number
  r: number
  p: number
}

// scrypt's recommended interactive-login cost (N = 2^15, r = 8, p = 1):
// 128 * N * r = 32 MB of memory for each hash while it runs.
const COST: ScryptCost = { N: 32768, r: 8, p: 1 }
const KEY_LENGTH = 32
const MAX_MEMORY = 64 * 1024 * 1024

/** `scrypt$N$r$p$salt$hash` (base64), as `switchyard passwd` prints it. */
export async function hashPassword(password: string, cost: ScryptCost = COST): Promise<string> {
  const salt = randomBytes(16)
  const key = await scrypt(password, salt, KEY_LENGTH, { N: cost.N, r: cost.r, p: cost.p, maxmem: MAX_MEMORY })
  return `scrypt$${cost.N}$${cost.r}$${cost.p}$${salt.toString('base64')}$${key.toString('base64')}`
}

/** Whether `hash` has the shape hashPassword makes. */
export function isPasswordHash(hash: string): boolean {
  return /^scrypt\$\d+\$\d+\$\d+\$[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+$/.test(hash)
}

/** The cost a hash was made with. */
export function costOf(hash: string): ScryptCost {
  const [, n, r, p] = hash.split('$')
  return { N: Number(n), r: Number(r), p: Number(p) }
}

/**
 * A hash of a random password no one knows, with the cost of `like` (the
 * default cost without it): checking a password against it takes as long as
 * against a real user's, and always fails.
 */
export function dummyHash(like?: string): Promise<string> {
  return hashPassword(randomBytes(32).toString('base64'), like ? costOf(like) : COST)
}

/** Checks a password against a hash, in time that does not depend on where they differ. */
export async function verifyPassword(password: string, hash: string): Promise<boolean> {
  const [scheme, n, r, p, salt, expected] = hash.split('$')
  if (scheme !== 'scrypt' || !salt || !expected) return false
  const want = Buffer.from(expected, 'base64')
  const got = await scrypt(password, Buffer.from(salt, 'base64'), want.length, { N: Number(n), r: Number(r), p: Number(p), maxmem: MAX_MEMORY })
  return got.length === want.length && timingSafeEqual(got, want)
}
