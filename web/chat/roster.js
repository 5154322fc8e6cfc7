/**
 * Who is in the room, merged from three sources that can arrive in any
 * order: the member list in the welcome message (read from the store when
 * this tab joined), live `online`/`offline` events on `chat/presence/{room}`,
 * and our own connection. For each client the event with the latest broker
 * timestamp wins, so a leave that arrives late never hides a newer join, and
 * an old member list never brings back someone who has left.
 *
 * Members that go quiet are dropped after `staleMs`: browsers say they are
 * here every couple of minutes, so someone whose leave was lost (the broker
 * was killed before it could tell) disappears on their own.
 */
export class Roster {
  #members = new Map()

  constructor({ staleMs }) {
    this.staleMs = staleMs
  }

  clear() {
    this.#members.clear()
  }

  /** A presence event `{ state, user, clientId, name, timestamp }`; true when it changed something. */
  apply(event, seenAt = Date.now()) {
    if (!event || typeof event.clientId !== 'string' || typeof event.timestamp !== 'number') return false
    const known = this.#members.get(event.clientId)
    if (known && known.timestamp > event.timestamp) return false
    this.#members.set(event.clientId, {
      clientId: event.clientId,
      // The user the broker's rule stamped: one person's tabs are one member.
      user: typeof event.user === 'string' ? event.user : known?.user ?? event.clientId,
      name: typeof event.name === 'string' ? event.name : known?.name ?? '',
      timestamp: event.timestamp,
      online: event.state === 'online',
      seenAt,
    })
    return true
  }

  /** The members of a welcome message, as seen `serverNow - timestamp` ago by the broker's clock. */
  welcome(members, serverNow, localNow = Date.now()) {
    let changed = false
    for (const m of Array.isArray(members) ? members : []) {
      const age = Math.max(0, serverNow - (m?.timestamp ?? serverNow))
      changed = this.apply({ ...m, state: 'online' }, localNow - age) || changed
    }
    return changed
  }

  /** Forgets members not heard from for `staleMs`; true when someone went. */
  sweep(localNow = Date.now()) {
    let changed = false
    for (const [id, m] of this.#members) {
      if (localNow - m.seenAt > this.staleMs) {
        this.#members.delete(id)
        changed ||= m.online
      }
    }
    return changed
  }

  /** The clients online now. */
  online() {
    return [...this.#members.values()].filter((m) => m.online)
  }
}
