/**
 * Runs when a browser joins a room (rule chatJoin, on `chat/join`): sends the
 * joining client, on its own inbox `chat/in/{clientId}`, the room's last 50
 * messages and who is online there, in one message so that they arrive
 * together and in order.
 */
import { topicLevel } from './topic-level.js'

/** Members not heard from for this long are gone (the browsers say `chat/here` every 2 minutes). */
const STALE_MS = 5 * 60_000
const HISTORY = 50

export default async function backlog(event, ctx) {
  const room = event?.room
  // The rule stamps clientId() into the event; ctx.clientId is the same publisher.
  const clientId = ctx.clientId ?? event?.clientId
  if (typeof room !== 'string' || typeof clientId !== 'string') return { sent: false }

  // The rules key a room's history and presence by its topic level.
  const key = topicLevel(room)
  const now = Date.now()
  const [stored, presence] = await Promise.all([
    ctx.store.query('chat', { key, limit: HISTORY }),
    ctx.store.query('presence', { key, since: now - STALE_MS, limit: 1000 }),
  ])
  // Stored events come newest first; a chat reads oldest first.
  const messages = stored.map((e) => e.data).reverse()
  const members = online(presence)

  await ctx.publish(`chat/in/${clientId}`, { type: 'welcome', room, messages, members, now }, { qos: 1 })
  return { messages: messages.length, members: members.length }
}

/**
 * The clients whose latest presence event is `online`. Latest by the time in
 * the event, not by when it was stored: a leave published by the leave
 * function can be stored after the same client's next join, yet it happened
 * before it.
 */
function online(events) {
  const latest = new Map()
  for (const { data } of events) {
    if (!data || typeof data.clientId !== 'string' || typeof data.timestamp !== 'number') continue
    const seen = latest.get(data.clientId)
    if (!seen || data.timestamp >= seen.timestamp) latest.set(data.clientId, data)
  }
  return [...latest.values()]
    .filter((e) => e.state === 'online')
    .map(({ clientId, name, timestamp }) => ({ clientId, name, timestamp }))
}
