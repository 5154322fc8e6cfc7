/**
 * Which room a page is in. A room is one MQTT topic level (`chat/pub/{room}`)
 * and one URL path level (the server answers `/{room}` with this page for
 * letters, digits, `_` and `-`, up to 64), so a room name is lower-case
 * letters, digits, `_` and `-`; anything else becomes `-`.
 */
export const DEFAULT_ROOM = 'lobby'
const MAX_LENGTH = 64

/** `/room-name`, else `/?room=name`, else `/#name`, else the lobby. */
export function roomFromLocation(location) {
  const path = decode(location.pathname.replace(/^\/+|\/+$/g, ''))
  const candidates = [
    path === 'index.html' ? '' : path,
    new URLSearchParams(location.search).get('room') ?? '',
    decode(location.hash.slice(1)),
  ]
  for (const candidate of candidates) {
    const room = cleanRoom(candidate)
    if (room !== '') return room
  }
  return DEFAULT_ROOM
}

export function cleanRoom(raw) {
  return raw
    .normalize('NFKD')
    .replace(/\p{M}/gu, '') // café -> cafe
    .toLowerCase()
    .replace(/[^a-z0-9_-]+/g, '-')
    .replace(/-{2,}/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, MAX_LENGTH)
}

export function roomHref(room) {
  return `/${room}`
}

function decode(text) {
  try {
    return decodeURIComponent(text)
  } catch {
    return text
  }
}
