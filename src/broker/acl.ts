import type { AclEntries } from './auth-schema.js'

export type AclAction = 'publish' | 'subscribe'

interface Entry {
  allow: boolean
  rights: 'publish' | 'subscribe' | 'all'
  patterns: string[]
}

/**
 * Ordered access rules, as in Mosquitto and EMQX: the first entry whose
 * right and topic pattern match decides, and with rules configured, what no
 * entry allows is denied. Patterns may use `${clientid}` and `${username}`.
 * Without any rules everything is allowed (the broker binds to loopback by
 * default).
 *
 * `$` topics follow the wildcard rule of MQTT [MQTT-4.7.2-1]: a pattern that
 * starts with a wildcard does not cover them, so `$events/#` is readable only
 * where an entry names it.
 */
export class Acl {
  readonly #entries: Entry[] | undefined

  constructor(config: AclEntries) {
    // The connect entries are the client id rules' (client-id-rules.ts); an
    // ACL of connect entries alone leaves topics open.
    const entries = config?.flatMap((e): Entry[] => {
      if ('topics' in e && 'allow' in e) return [{ allow: true, rights: e.allow, patterns: e.topics }]
      if ('topics' in e && 'deny' in e) return [{ allow: false, rights: e.deny, patterns: e.topics }]
      return []
    })
    this.#entries = entries && (entries.length > 0 || config!.length === 0) ? entries : undefined
  }

  get enabled(): boolean {
    return this.#entries !== undefined
  }

  /** May this client publish to `topic` (action publish) or subscribe to the filter `topic` (action subscribe)? */
  allows(action: AclAction, topic: string, who: { clientId: string; username: string | undefined }): boolean {
    if (!this.#entries) return true
    for (const entry of this.#entries) {
      if (entry.rights !== 'all' && entry.rights !== action) continue
      for (const raw of entry.patterns) {
        const pattern = substitute(raw, who)
        if (pattern !== undefined && covers(pattern, topic, action)) return entry.allow
      }
    }
    return false
  }
}

/**
 * Fills `${clientid}` and `${username}`; undefined when a value is missing or
 * could widen the pattern (a client id of `#` must not read every inbox).
 */
function substitute(pattern: string, who: { clientId: string; username: string | undefined }): string | undefined {
  if (!pattern.includes('${')) return pattern
  let unsafe = false
  const out = pattern.replace(/\$\{(clientid|username)\}/gi, (_m, name: string) => {
    const value = name.toLowerCase() === 'clientid' ? who.clientId : who.username
    if (value === undefined || value === '' || /[/+#]/.test(value)) unsafe = true
    return value ?? ''
  })
  return unsafe ? undefined : out
}

/**
 * Whether `pattern` covers a topic name (publish) or a whole topic filter
 * (subscribe): a filter is covered only when every topic it can match is,
 * so `chat/pub/+` covers `chat/pub/lobby` and `chat/pub/+`, not `chat/pub/#`.
 */
export function covers(pattern: string, topic: string, action: AclAction): boolean {
  const p = pattern.split('/')
  const t = topic.split('/')
  if (t[0]!.startsWith('$') && (p[0] === '+' || p[0] === '#')) return false
  for (let i = 0; i < p.length; i++) {
    if (p[i] === '#') return true
    if (i >= t.length) return false
    const level = t[i]!
    if (action === 'subscribe' && level === '#') return false
    if (p[i] === '+') continue
    if (p[i] !== level || (action === 'subscribe' && level === '+')) return false
  }
  return p.length === t.length
}
