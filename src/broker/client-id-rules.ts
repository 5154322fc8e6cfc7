import type { AclEntries } from './auth-schema.js'

interface ConnectEntry {
  allow: boolean
  /** Usernames the entry is for; every user when undefined. */
  users: ReadonlySet<string> | undefined
  patterns: readonly string[]
  takeover: boolean
}

/** What the connect entries say of a client id: whether a user may use it, and may take it from another user. */
export type ConnectDecision = { allowed: boolean; takeover: boolean }

/**
 * The `connect` entries of the ACL: which client ids each user may connect
 * with, as AWS IoT's `iot:Connect` on a client id resource. The first entry
 * whose users and client id pattern match decides; with connect entries
 * configured, a client id none allows is refused. Patterns are whole client
 * ids where `*` stands for any run of characters and `${username}` for the
 * user's name (an entry with `${username}` never matches an anonymous
 * client). An allowing entry with `takeover: true` also lets its users take
 * a client id over from another user (an operator's console, say).
 */
export class ClientIdRules {
  readonly #entries: readonly ConnectEntry[]

  constructor(config: AclEntries) {
    this.#entries = (config ?? []).flatMap((e): ConnectEntry[] => {
      if ('allow' in e && e.allow === 'connect') return [{ allow: true, users: e.users && new Set(e.users), patterns: e.clientIds, takeover: e.takeover }]
      if ('deny' in e && e.deny === 'connect') return [{ allow: false, users: e.users && new Set(e.users), patterns: e.clientIds, takeover: false }]
      return []
    })
  }

  /** True when the ACL has connect entries, and so restricts client ids. */
  get restricting(): boolean {
    return this.#entries.length > 0
  }

  decide(clientId: string, username: string | undefined): ConnectDecision {
    for (const entry of this.#entries) {
      if (entry.users && (username === undefined || !entry.users.has(username))) continue
      if (entry.patterns.some((p) => matches(p, clientId, username))) return { allowed: entry.allow, takeover: entry.takeover }
    }
    return { allowed: !this.restricting, takeover: false }
  }
}

const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')

/** Whether a client id pattern (`*`, `${username}`) covers `clientId` whole. */
export function matches(pattern: string, clientId: string, username: string | undefined): boolean {
  if (!pattern.includes('${') && !pattern.includes('*')) return pattern === clientId
  const parts = pattern.split(/(\$\{username\}|\*)/i)
  let source = ''
  for (const part of parts) {
    if (part === '*') source += '.*'
    else if (/^\$\{username\}$/i.test(part)) {
      if (!username) return false
      source += escape(username)
    } else source += escape(part)
  }
  return new RegExp(`^${source}$`, 's').test(clientId)
}
