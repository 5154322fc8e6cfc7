import { avatar } from './people-list.js'
import { formatFull, formatTime } from './time.js'

/** Messages from one sender closer together than this share one header. */
const GROUP_MS = 5 * 60_000
const MAX_MESSAGES = 500
/** How close to the bottom (px) still counts as reading the newest messages. */
const NEAR_BOTTOM = 80

/**
 * The conversation, oldest at the top, in the order of the broker's
 * timestamps: the backlog of a (re)join and live messages can overlap and
 * arrive out of order, so each message is placed by its time and shown once
 * (by the id rule chatPub gives it).
 *
 * Every piece of user text goes in through textContent: a message such as
 * `<img src=x onerror=alert(1)>` is shown as those characters.
 */
export class MessageList {
  #ids = new Set()
  #atBottom = true

  constructor(list, scroller, { isOwn }) {
    this.list = list
    this.scroller = scroller
    this.isOwn = isOwn
    // When the conversation's box shrinks (the offline note above the
    // composer appears, a phone's keyboard opens), its top stays put and the
    // newest messages would slip out of view below: a reader who was at the
    // bottom stays there.
    scroller.addEventListener('scroll', () => {
      this.#atBottom = this.#nearBottom()
    }, { passive: true })
    new ResizeObserver(() => {
      if (this.#atBottom) this.scrollToBottom()
    }).observe(scroller)
  }

  get size() {
    return this.#ids.size
  }

  /** Adds messages; keeps the view at the bottom when it was there (or when `toBottom`). */
  add(messages, { toBottom = false } = {}) {
    const atBottom = this.#nearBottom()
    let added = 0
    let own = false
    for (const m of messages) {
      const message = normalise(m)
      if (!message || this.#ids.has(message.id)) continue
      this.#ids.add(message.id)
      const li = this.#insert(message)
      own ||= li.classList.contains('own')
      added++
    }
    this.#trim()
    if (added > 0 && (toBottom || atBottom || own)) this.scrollToBottom()
    return added
  }

  scrollToBottom() {
    this.scroller.scrollTop = this.scroller.scrollHeight
    this.#atBottom = true
  }

  /**
   * Places a line that is not a message (someone joined) by its
   * `data-time` among the messages; keeps the view at the bottom when it
   * was there.
   */
  place(li) {
    const atBottom = this.#nearBottom()
    this.#placeByTime(li)
    this.#trim()
    if (atBottom) this.scrollToBottom()
  }

  /** The last line of the conversation, message or not. */
  get last() {
    return this.list.lastElementChild
  }

  #nearBottom() {
    const s = this.scroller
    return s.scrollHeight - s.scrollTop - s.clientHeight < NEAR_BOTTOM
  }

  #insert(message) {
    const li = this.#render(message)
    this.#placeByTime(li)
    return li
  }

  #placeByTime(li) {
    const time = Number(li.dataset.time)
    // Live lines are newest: look for the place from the end.
    let after = this.list.lastElementChild
    while (after && Number(after.dataset.time) > time) after = after.previousElementSibling
    if (after) after.after(li)
    else this.list.prepend(li)
    group(li)
    if (li.nextElementSibling) group(li.nextElementSibling)
  }

  #render(m) {
    const own = this.isOwn(m.user)
    const li = document.createElement('li')
    li.className = own ? 'message own' : 'message'
    li.dataset.id = m.id
    li.dataset.time = String(m.timestamp)
    li.dataset.sender = `${m.user}\n${m.name}`

    if (!own) li.append(avatar(m.name, m.user))
    const bubble = document.createElement('div')
    bubble.className = 'bubble'
    const meta = document.createElement('div')
    meta.className = 'meta'
    const author = document.createElement('span')
    author.className = 'author'
    author.textContent = own ? 'You' : m.name
    const time = document.createElement('time')
    const date = new Date(m.timestamp)
    time.dateTime = date.toISOString()
    time.textContent = formatTime(date)
    time.title = formatFull(date)
    meta.append(author, time)
    const text = document.createElement('p')
    text.className = 'text'
    text.textContent = m.message
    bubble.append(meta, text)
    li.append(bubble)
    return li
  }

  #trim() {
    while (this.list.childElementCount > MAX_MESSAGES) {
      const first = this.list.firstElementChild
      if (first.dataset.id !== undefined) this.#ids.delete(first.dataset.id)
      first.remove()
      if (this.list.firstElementChild) group(this.list.firstElementChild)
    }
  }
}

/** Marks a message that continues its sender's previous one, which hides its header. */
function group(li) {
  if (!li.classList.contains('message')) return
  const prev = li.previousElementSibling
  const continues = prev !== null &&
    prev.dataset.sender === li.dataset.sender &&
    Number(li.dataset.time) - Number(prev.dataset.time) < GROUP_MS
  li.classList.toggle('continued', continues)
}

/** The fields a message needs, as text and numbers whatever a sender put in the payload. */
function normalise(m) {
  if (!m || typeof m !== 'object' || m.message === undefined || m.message === null) return undefined
  const timestamp = typeof m.timestamp === 'number' && Number.isFinite(m.timestamp) ? m.timestamp : Date.now()
  const clientId = typeof m.clientId === 'string' ? m.clientId : ''
  const message = typeof m.message === 'string' ? m.message : JSON.stringify(m.message)
  const name = typeof m.name === 'string' && m.name.trim() !== '' ? m.name.trim().slice(0, 64) : 'anonymous'
  const id = typeof m.id === 'string' ? m.id : `${clientId}|${timestamp}|${message}`
  // Who sent it, as the broker's rule stamped it: the authenticated user.
  const user = typeof m.user === 'string' ? m.user : clientId
  return { id, timestamp, clientId, user, message, name }
}
