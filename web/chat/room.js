/**
 * Which room a page is in. A room is one MQTT topic level (`chat/pub/{room}`)
 * and one URL path level (the server answers any `/{anything}` that is not
 * its own with this page), so a room name is lower-case letters, digits, `_`
 * and `-`, up to 64: `/Team%20Blue` is the room `team-blue`, `/café` is
 * `cafe`, and anything else becomes `-`.
 */
export const DEFAULT_ROOM = 'lobby'
const MAX_LENGTH = 64

/** `/room-name`, else `/?room=name`, else `/#name`, else the lobby. */
export function roomFromLocation(location) {
  const candidates = [
    pathName(location),
    new URLSearchParams(location.search).get('room') ?? '',
    decode(location.hash.slice(1)),
  ]
  for (const candidate of candidates) {
    const room = cleanRoom(candidate)
    if (room !== '') return room
  }
  return DEFAULT_ROOM
}

/**
 * The address to show instead of a room path written otherwise than the
 * page writes it (`/Team%20Blue` -> `/team-blue`), query and fragment kept;
 * undefined when the address is the room's own already, or the room does
 * not come from the path.
 */
export function normalisedHref(location) {
  const room = cleanRoom(pathName(location))
  if (room === '' || roomHref(room) === location.pathname) return undefined
  return roomHref(room) + location.search + location.hash
}

export function cleanRoom(raw) {
  return trimDashes(
    trimDashes(
      raw
        .normalize('NFKD')
        .replace(/\p{M}/gu, '') // café -> cafe
        .toLowerCase()
        .replace(/[^a-z0-9_-]+/g, '-')
        .replace(/-{2,}/g, '-'),
    ).slice(0, MAX_LENGTH), // a name cut at a dash ends without one
  )
}

export function roomHref(room) {
  return `/${room}`
}

function pathName(location) {
  const path = decode(location.pathname.replace(/^\/+|\/+$/g, ''))
  return path === 'index.html' ? '' : path
}

function trimDashes(text) {
  return text.replace(/^-+|-+$/g, '')
}

function decode(text) {
  try {
    return decodeURIComponent(text)
  } catch {
    return text
  }
}
