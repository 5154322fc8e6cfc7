import { z } from 'zod'
import { duration } from '../duration.js'
import { isPasswordHash } from './passwords.js'

const DEFAULT_MAX_LIFETIME = 24 * 3_600_000

const failureCount = z.number({ error: 'must be a whole number, 0 or more' }).int('must be a whole number, 0 or more').min(0, 'must be a whole number, 0 or more')

/** Failed logins per username and per source address; see LoginThrottle for how they count. */
export const loginThrottleSchema = z.strictObject({
  /** Failed logins for one username before it is locked; 0 turns the per-username lock off. */
  maxFailures: failureCount.default(5),
  /**
   * Failed logins from one source address (an IPv6 /64) before it is locked;
   * 0 turns it off, as clients behind one proxy or NAT share an address.
   */
  maxAddressFailures: failureCount.default(20),
  /** The first lock; each failure after it doubles the next one. */
  lockout: duration.refine((ms) => ms >= 1, 'must be at least 1ms').default(10_000),
  maxLockout: duration.default(15 * 60_000),
  /** How long failures are remembered after the last one (or the end of a lock). */
  window: duration.refine((ms) => ms >= 1000, 'must be at least 1s').default(15 * 60_000),
  /** Usernames, and apart from them addresses, remembered at most; the least recently used are forgotten first. */
  maxTracked: z.number({ error: 'must be a whole number' }).int('must be a whole number').min(100, 'must be at least 100').default(10_000),
}).refine((t) => t.maxLockout >= t.lockout, { message: 'must not be shorter than lockout', path: ['maxLockout'] })

export type LoginThrottleConfig = z.output<typeof loginThrottleSchema>

/** Password hashes computed at once, and checks waiting for one; see HashGate. */
export const passwordChecksSchema = z.strictObject({
  /**
   * Two: each scrypt holds 32 MB and a core for ~80 ms, and libuv's other
   * two threads stay free for file and DNS work. Above UV_THREADPOOL_SIZE
   * (4) more only wait inside libuv.
   */
  concurrency: z.number({ error: 'must be a whole number' }).int('must be a whole number').min(1, 'must be at least 1').default(2),
  /** 64 checks are about 2.5 s of hashing at two at a time: well inside a client's connect timeout (30 s in MQTT.js). */
  queueSize: z.number({ error: 'must be a whole number' }).int('must be a whole number').min(0, 'must not be negative').default(64),
})

export const authSchema = z.strictObject({
  /** Clients that give no username may connect. Off as soon as users or jwt is set, unless said otherwise. */
  anonymous: z.boolean({ error: 'must be true or false' }).optional(),
  users: z.array(z.strictObject({
    username: z.string().min(1, 'must not be empty'),
    password: z.string().refine(isPasswordHash, 'must be a hash printed by `switchyard passwd` (scrypt$...), never the password itself'),
  }), { error: 'must be a list of { username, password }' }).default([]),
  /** Tokens that browsers send as the MQTT password. */
  jwt: z.strictObject({
    secret: z.string().min(32, 'must be at least 32 characters (HS256)').optional(),
    /** A file holding the HS256 secret, made with a random one when missing: a config that holds no secret. */
    secretFile: z.string().min(1, 'must be a file path').optional(),
    publicKey: z.string().refine((k) => k.includes('BEGIN PUBLIC KEY'), 'must be a PEM public key (-----BEGIN PUBLIC KEY-----)').optional(),
    /** The claim that names the user; `sub` by default. */
    usernameClaim: z.string().default('sub'),
    audience: z.string().optional(),
    issuer: z.string().optional(),
    /** Refuse tokens without `exp`: one that never expires is a login for whoever ever copied it. */
    requireExp: z.boolean({ error: 'must be true or false' }).default(true),
    /**
     * The longest lifetime a token may state, `exp` - `iat` (or `exp` - now
     * without `iat`); 0 for no cap. A day by default (or guests.lifetime,
     * when longer, for the tokens the broker signs itself): browser sessions
     * get tokens of minutes to hours, and a leaked one stops working within it.
     */
    maxLifetime: duration.optional(),
  }).refine((j) => [j.secret, j.secretFile, j.publicKey].filter((x) => x !== undefined).length === 1, 'must have one of secret, secretFile or publicKey').optional(),
  /**
   * Guest identities: `POST /auth/guest` signs a token for a new user
   * `guest-{random}` (or renews the caller's own guest token). A public
   * page's visitors then connect as users of their own, whom the ACL and
   * principal() tell apart, without accounts.
   */
  guests: z.strictObject({
    lifetime: duration.default(30 * 86_400_000),
    /** New identities per source address per minute. */
    perMinute: z.number({ error: 'must be a number' }).int().positive().default(10),
  }).optional(),
  loginThrottle: loginThrottleSchema.prefault({}),
  passwordChecks: passwordChecksSchema.prefault({}),
}).prefault({}).refine((a) => !a.guests || (a.jwt !== undefined && a.jwt.publicKey === undefined), { message: 'guests needs jwt with secret or secretFile: the broker signs the guests\' tokens', path: ['guests'] })
  .refine((a) => !a.guests || !a.jwt?.maxLifetime || a.guests.lifetime <= a.jwt.maxLifetime, { message: 'must not be shorter than guests.lifetime: the broker would sign guest tokens it then refuses', path: ['jwt', 'maxLifetime'] })
  .transform((a) => (a.jwt ? { ...a, jwt: { ...a.jwt, maxLifetime: a.jwt.maxLifetime ?? Math.max(DEFAULT_MAX_LIFETIME, a.guests?.lifetime ?? 0) } } : { ...a, jwt: undefined }))

export type AuthConfig = z.output<typeof authSchema>

const rights = z.enum(['publish', 'subscribe', 'all'], { error: 'must be publish, subscribe or all' })

const clientIds = z.array(z.string().min(1, 'must not be empty'), { error: 'must be a list of client id patterns such as chat-${username}-*' }).min(1, 'must name at least one client id pattern')
const users = z.array(z.string().min(1), { error: 'must be a list of usernames' }).optional()

/**
 * `- { allow: subscribe, topics: [...] }`, `- { deny: all }`: the first entry
 * that matches decides. `connect` entries, which `all` does not include,
 * decide which client ids a user may connect with.
 */
const aclEntries = z.array(z.union([
  z.strictObject({ allow: rights, topics: z.array(z.string().min(1)).default(['#']) }),
  z.strictObject({ deny: rights, topics: z.array(z.string().min(1)).default(['#']) }),
  z.strictObject({ allow: z.literal('connect'), clientIds, users, takeover: z.boolean({ error: 'must be true or false' }).default(false) }),
  z.strictObject({ deny: z.literal('connect'), clientIds, users }),
], { error: 'must be { allow: publish|subscribe|all, topics: [...] }, { deny: ..., topics: [...] } or { allow|deny: connect, clientIds: [...] }' }), { error: 'must be a list of rules' })

/**
 * `acl:` is the list of entries, or `{ deniedPublish, rules: [...] }` when
 * the denied-publish policy is set too. What a refused PUBLISH (to a `$`
 * topic, or one the entries deny) does to its client: `drop` (the default,
 * as Mosquitto does) acknowledges it as its QoS requires and delivers it to
 * no one; `disconnect` closes the connection, which [MQTT-3.3.5-2] allows.
 */
export const aclSchema = z.union([
  aclEntries,
  z.strictObject({
    deniedPublish: z.enum(['drop', 'disconnect'], { error: 'must be drop or disconnect' }).default('drop'),
    rules: aclEntries.optional(),
  }),
], { error: 'must be a list of rules, or { deniedPublish: drop | disconnect, rules: [...] }' }).optional()
  .transform((acl) => (Array.isArray(acl) || acl === undefined ? { rules: acl, deniedPublish: 'drop' as const } : acl))

export type AclConfig = z.output<typeof aclSchema>
export type AclEntries = AclConfig['rules']
