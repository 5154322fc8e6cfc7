/**
 * Who the person at this browser is. The name is remembered in localStorage,
 * and so is a guest identity the broker signs (`POST /auth/guest`: a user
 * `guest-{random}` and a token, renewed at each visit). The page connects as
 * that user, with the token as its password; each tab has its own client id,
 * `chat-{user}-{tab}`, which only that user may use. Whose a message is
 * comes from the `user` the broker's rule stamps on it (the authenticated
 * principal), never from anything a client sent.
 */
const NAME_KEY = 'switchyard.chat.name'
const GUEST_KEY = 'switchyard.chat.guest'
export const MAX_NAME = 32

export function savedName() {
  return read(NAME_KEY) ?? ''
}

export function saveName(name) {
  write(NAME_KEY, name)
}

export function cleanName(raw) {
  return raw.replace(/\s+/g, ' ').trim().slice(0, MAX_NAME)
}

/**
 * This browser's guest identity `{ username, token }`, renewed (or made on
 * the first visit) by the broker; undefined when the broker gives none (a
 * config without `auth.guests`): the page then connects anonymously.
 */
export async function guestIdentity() {
  let saved
  try {
    saved = JSON.parse(read(GUEST_KEY) ?? 'null')
  } catch {
    saved = null
  }
  try {
    const res = await fetch('/auth/guest', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(typeof saved?.token === 'string' ? { token: saved.token } : {}),
    })
    if (!res.ok) return validGuest(saved)
    const guest = await res.json()
    if (typeof guest?.username !== 'string' || typeof guest?.token !== 'string') return undefined
    write(GUEST_KEY, JSON.stringify({ username: guest.username, token: guest.token, expiresAt: guest.expiresAt }))
    return { username: guest.username, token: guest.token }
  } catch {
    // The broker is not reachable now: a token still valid will do, and the connection retries.
    return validGuest(saved)
  }
}

function validGuest(saved) {
  if (typeof saved?.username !== 'string' || typeof saved?.token !== 'string' || !(saved.expiresAt > Date.now())) return undefined
  return { username: saved.username, token: saved.token }
}

/** A client id of this tab: the user's, so that the broker lets no one else use it. */
export function newClientId(user) {
  return `chat-${user ?? `anonymous${randomHex(4)}`}-${randomHex(4)}`
}

// crypto.getRandomValues, not randomUUID: a phone that opens the page over
// plain http on the LAN is not a secure context, and randomUUID needs one.
function randomHex(bytes) {
  return Array.from(crypto.getRandomValues(new Uint8Array(bytes)), (b) => b.toString(16).padStart(2, '0')).join('')
}

// Storage can be off (private modes, blocked cookies): the chat still works, it just forgets.
function read(key) {
  try {
    return localStorage.getItem(key)
  } catch {
    return null
  }
}

function write(key, value) {
  try {
    localStorage.setItem(key, value)
  } catch {
    // Nothing to do: the name is asked again next time.
  }
}
