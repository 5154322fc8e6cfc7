/**
 * Renders who is in the room: one row per person (a person with two tabs
 * open is one row), you first, then by name. Names are user text: they only
 * ever go in through textContent.
 */
export function renderPeople(list, countEls, members, me) {
  const people = new Map()
  for (const m of members) {
    const user = m.user ?? m.clientId
    const seen = people.get(user)
    if (!seen || m.timestamp > seen.timestamp) people.set(user, { user, name: m.name, timestamp: m.timestamp })
  }
  if (me) people.set(me.user, { user: me.user, name: me.name, timestamp: Infinity })

  const sorted = [...people.values()].sort((a, b) =>
    (a.user === me?.user ? -1 : b.user === me?.user ? 1 : a.name.localeCompare(b.name)))
  list.replaceChildren(...sorted.map((p) => personItem(p, p.user === me?.user)))
  for (const el of countEls) el.textContent = String(sorted.length)
}

function personItem(person, isMe) {
  const li = document.createElement('li')
  li.className = 'person'
  li.append(avatar(person.name, person.user))
  const name = document.createElement('span')
  name.className = 'person-name'
  name.textContent = person.name || 'anonymous'
  li.append(name)
  if (isMe) {
    const tag = document.createElement('span')
    tag.className = 'tag'
    tag.textContent = 'you'
    li.append(tag)
  }
  return li
}

/** A round badge with the name's first letter, in a colour of its own per user. */
export function avatar(name, key) {
  const el = document.createElement('span')
  el.className = 'avatar'
  el.setAttribute('aria-hidden', 'true')
  el.textContent = (Array.from(name.trim())[0] ?? '?').toUpperCase()
  // CSSOM, not a style attribute: the page's CSP allows no inline styles.
  el.style.setProperty('--hue', String(hue(key)))
  return el
}

// Hues far enough apart to tell people by colour at a glance.
const HUES = [4, 28, 48, 140, 172, 200, 228, 262, 292, 326]

function hue(text) {
  let h = 0
  for (const ch of text) h = (h * 31 + ch.codePointAt(0)) % 1009
  return HUES[h % HUES.length]
}
