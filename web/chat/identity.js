/**
 * Who the person at this browser is. The name and a random user id are
 * remembered in localStorage; each tab connects with its own client id,
 * `chat-{user}-{tab}`, so two tabs never take each other's session over,
 * while the user part tells a person's own messages apart after a reload.
 */
const NAME_KEY = 'switchyard.chat.name'
const USER_KEY = 'switchyard.chat.user'
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

/** The user id of this browser, made on the first visit. */
export function userId() {
  let id = read(USER_KEY)
  if (!id || !/^[0-9a-f]{12}$/.test(id)) {
    id = randomHex(6)
    write(USER_KEY, id)
  }
  return id
}

export function newClientId(user) {
  return `chat-${user}-${randomHex(4)}`
}

/** The user part of a chat client id, or the whole id for other clients. */
export function userOf(clientId) {
  const match = /^chat-([0-9a-f]+)-[0-9a-f]+$/.exec(clientId ?? '')
  return match ? match[1] : String(clientId ?? '')
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
