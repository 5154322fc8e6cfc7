/**
 * Joins and leaves as lines in the conversation: "Ann joined", "Ann left".
 * A person is a user (two tabs of one person are one person): a line says
 * when someone's first tab came or their last tab went, never the
 * heartbeats in between, and never oneself.
 *
 * Lines close together are one line: a join within WINDOW_MS of the last
 * one on the conversation's last line, when that line says who joined and
 * nothing was said since, is added to it ("Ann, Bob and 3 others joined");
 * the same for leaves. Someone who
 * comes back within the window after leaving (a reload, a dropped
 * connection) is taken out of the "left" line instead.
 *
 * Who was already there when this tab (re)joined is no news: the welcome
 * sets who is present without a line, and events between a reconnect and
 * its welcome are left to the welcome.
 */
export const WINDOW_MS = 60_000
const SHOWN_NAMES = 3

export class Activity {
  /** user -> name, of the people present as last seen; undefined until the first welcome. */
  #present = undefined
  /** A line's people, user -> name, in the order they came. */
  #people = new WeakMap()

  /** `messages`: the MessageList the lines go into; `isOwn(user)`: whether a user is this browser's. */
  constructor(messages, { isOwn }) {
    this.messages = messages
    this.isOwn = isOwn
  }

  /** A new connection: who is here comes afresh with its welcome. */
  pause() {
    this.#present = undefined
  }

  /** The members of a welcome: who is present, without a line. */
  reset(members) {
    this.#present = presentPeople(members, this.isOwn)
  }

  /** The members online now, after a presence event at `time` (the broker's clock): a line for who came or went. */
  update(members, time = Date.now()) {
    if (this.#present === undefined) return
    const now = presentPeople(members, this.isOwn)
    const joined = [...now].filter(([user]) => !this.#present.has(user))
    const left = [...this.#present].filter(([user]) => !now.has(user))
    this.#present = now
    for (const [user, name] of left) this.#add('left', user, name, time)
    for (const [user, name] of joined) {
      if (!this.#back(user, time)) this.#add('joined', user, name, time)
    }
  }

  #add(kind, user, name, time) {
    const last = this.#recent(kind, time)
    if (last) {
      this.#people.get(last).set(user, name)
      last.dataset.latest = String(Math.max(time, Number(last.dataset.latest)))
      render(last, this.#people.get(last))
      return
    }
    const li = document.createElement('li')
    li.className = 'activity'
    li.dataset.kind = kind
    li.dataset.time = String(time)
    li.dataset.latest = String(time)
    const people = new Map([[user, name]])
    this.#people.set(li, people)
    render(li, people)
    this.messages.place(li)
  }

  /** Takes a person who comes back out of a recent "left" line; true when they were in it. */
  #back(user, time) {
    const last = this.#recent('left', time)
    const people = last && this.#people.get(last)
    if (!people?.has(user)) return false
    people.delete(user)
    if (people.size === 0) last.remove()
    else render(last, people)
    return true
  }

  /** The conversation's last line, when it is a `kind` line whose latest name came within the window before `time`. */
  #recent(kind, time) {
    const last = this.messages.last
    if (!last || !last.classList.contains('activity') || last.dataset.kind !== kind) return undefined
    return Math.abs(time - Number(last.dataset.latest)) <= WINDOW_MS ? last : undefined
  }
}

/** "Ann joined", "Ann and Bob joined", "Ann, Bob and Cy joined", "Ann, Bob and 3 others joined". */
export function describeActivity(names, kind) {
  if (names.length <= 1) return `${names[0] ?? 'Someone'} ${kind}`
  if (names.length <= SHOWN_NAMES) return `${names.slice(0, -1).join(', ')} and ${names.at(-1)} ${kind}`
  const others = names.length - (SHOWN_NAMES - 1)
  return `${names.slice(0, SHOWN_NAMES - 1).join(', ')} and ${others} others ${kind}`
}

function render(li, people) {
  const names = [...people.values()]
  // User text: textContent only.
  li.textContent = describeActivity(names, li.dataset.kind)
  li.title = names.join(', ')
}

/** user -> name of the members online, oneself left out; a person's latest name wins. */
function presentPeople(members, isOwn) {
  const latest = new Map()
  for (const m of members) {
    if (isOwn(m.user)) continue
    const seen = latest.get(m.user)
    if (!seen || m.timestamp > seen.timestamp) latest.set(m.user, m)
  }
  return new Map([...latest].map(([user, m]) => [user, m.name || 'anonymous']))
}
