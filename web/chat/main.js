import { Activity } from './activity.js'
import { ChatConnection } from './connection.js'
import { cleanName, guestIdentity, newClientId, savedName, saveName } from './identity.js'
import { MessageList } from './message-list.js'
import { limitNote, messageLength } from './message-limit.js'
import { renderPeople } from './people-list.js'
import { Roster } from './roster.js'
import { cleanRoom, normalisedHref, roomFromLocation, roomHref } from './room.js'

/** The chat page: finds its elements, asks for a name once, and wires the connection to the views. */

const $ = (id) => document.getElementById(id)
const room = roomFromLocation(location)
// /Team%20Blue is the room team-blue: the address bar says so too, and a copied link is the room's own.
const normalised = normalisedHref(location)
if (normalised !== undefined) history.replaceState(history.state, '', normalised)
// Set once the broker has given this browser its identity (see start()).
let user
let clientId
const isOwn = (sender) => user !== undefined && sender === user

const STATUS_TEXT = {
  connecting: 'Connecting…',
  online: 'Connected',
  reconnecting: 'Reconnecting…',
  offline: 'Offline, retrying',
}

document.title = `#${room} · Switchyard chat`
$('room-name').textContent = room
$('message').placeholder = `Message #${room}`
$('welcome-room').textContent = `#${room}`

const messages = new MessageList($('messages'), $('scroller'), { isOwn })
const roster = new Roster({ staleMs: 5 * 60_000 })
const activity = new Activity(messages, { isOwn })
let connection

function showPeople() {
  const me = connection?.connected ? { user, name: connection.name } : undefined
  renderPeople($('people-list'), [$('people-count'), $('people-count-side')], roster.online(), me)
}

let online = false

/** Send is for a connected tab and a message the rules take: within the length limit. */
function updateComposer() {
  const note = limitNote(messageLength($('message').value))
  $('message-limit').hidden = note.text === ''
  $('message-limit').textContent = note.text
  $('message-limit').dataset.over = String(note.over)
  $('send').disabled = !online || note.over
  return note
}

function setStatus(state, detail) {
  const status = $('status')
  status.dataset.state = state
  $('status-text').textContent = STATUS_TEXT[state] ?? state
  status.title = detail ?? ''
  document.body.dataset.connection = state
  online = state === 'online'
  updateComposer()
  $('offline-note').hidden = state === 'online'
  $('offline-note').textContent = state === 'connecting'
    ? 'Connecting to the chat…'
    : 'You are offline. Reconnecting, your text stays here until it can be sent.'
  showPeople()
}

function showEmpty() {
  $('empty').hidden = messages.size > 0
}

async function start(name) {
  $('name-input').value = name
  setStatus('connecting')
  const guest = await guestIdentity()
  user = guest?.username
  clientId = newClientId(user)
  connection = new ChatConnection({
    url: `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/mqtt`,
    clientId,
    credentials: guest && { username: guest.username, password: guest.token },
    room,
    name,
    on: {
      status: setStatus,
      connected() {
        // A new session: who is here comes afresh from the welcome and live events.
        roster.clear()
        activity.pause()
      },
      message(m) {
        messages.add([m])
        showEmpty()
      },
      presence(event) {
        if (!roster.apply(event)) return
        showPeople()
        activity.update(roster.online(), event.timestamp)
      },
      welcome(w) {
        messages.add(Array.isArray(w.messages) ? w.messages : [], { toBottom: true })
        roster.welcome(w.members, typeof w.now === 'number' ? w.now : Date.now())
        activity.reset(roster.online())
        showEmpty()
        showPeople()
      },
    },
  })
  connection.start()
  setInterval(() => {
    if (!roster.sweep()) return
    showPeople()
    activity.update(roster.online())
  }, 30_000)
}

$('composer').addEventListener('submit', (e) => {
  e.preventDefault()
  const input = $('message')
  const text = input.value.trim()
  // Too long: it stays in the box, with the note that says by how much.
  if (text === '' || !connection || updateComposer().over) return
  if (connection.send(text)) input.value = ''
  updateComposer()
  input.focus()
})
$('message').addEventListener('input', updateComposer)

$('name-form').addEventListener('submit', (e) => {
  e.preventDefault()
  const name = cleanName($('name-input').value)
  if (name === '' || !connection) return
  saveName(name)
  connection.rename(name)
  $('name-input').value = name
  showPeople()
  closePeople()
})

$('room-form').addEventListener('submit', (e) => {
  e.preventDefault()
  const next = cleanRoom($('room-input').value)
  if (next !== '' && next !== room) location.assign(roomHref(next))
})

// `/#name` links: a new hash is a new room, and the page starts over in it.
window.addEventListener('hashchange', () => {
  if (roomFromLocation(location) !== room) location.reload()
})

const peopleToggle = $('people-toggle')
function closePeople() {
  document.body.classList.remove('people-open')
  peopleToggle.setAttribute('aria-expanded', 'false')
}
peopleToggle.addEventListener('click', () => {
  const open = document.body.classList.toggle('people-open')
  peopleToggle.setAttribute('aria-expanded', String(open))
})
$('people-close').addEventListener('click', closePeople)
// On a phone the people panel lies over the chat: a tap beside it or Escape closes it.
document.addEventListener('click', (e) => {
  if (document.body.classList.contains('people-open') && !$('people').contains(e.target) && !peopleToggle.contains(e.target)) closePeople()
})
document.addEventListener('keydown', (e) => {
  if (e.key === 'Escape') closePeople()
})

// The first visit asks for a name; later visits remember it.
const remembered = savedName()
if (remembered !== '') {
  start(remembered)
} else {
  const dialog = $('welcome')
  const input = $('welcome-name')
  dialog.addEventListener('cancel', (e) => e.preventDefault())
  $('welcome-form').addEventListener('submit', (e) => {
    e.preventDefault()
    const name = cleanName(input.value)
    if (name === '') return input.focus()
    saveName(name)
    dialog.close()
    start(name)
    $('message').focus()
  })
  dialog.showModal()
}
