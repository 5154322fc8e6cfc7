/**
 * Runs when a chat client's connection ends (rule chatOffline, on
 * `$events/presence/disconnected/+`). The lifecycle event names only the
 * client, so the rooms it joined are looked up in the `sessions` table that
 * rule chatJoin fills; each of those rooms hears that the client is offline.
 */
import { topicLevel } from './topic-level.js'

export default async function leave(event, ctx) {
  const clientId = event?.clientId
  if (typeof clientId !== 'string') return { rooms: [] }

  const joins = await ctx.store.query('sessions', { key: clientId, limit: 100 })
  const rooms = new Map()
  for (const { data } of joins) {
    if (data && typeof data.room === 'string' && !rooms.has(data.room)) rooms.set(data.room, { name: data.name, user: data.user })
  }
  // The time of the disconnection, not of this call: a browser orders
  // presence events by it, so a late leave never hides a newer join.
  const timestamp = typeof event.timestamp === 'number' ? event.timestamp : Date.now()
  for (const [room, { name, user }] of rooms) {
    // The room's topic as the rules write it: one level, whatever the name.
    await ctx.publish(`chat/presence/${topicLevel(room)}`, { state: 'offline', room, name, user, clientId, timestamp }, { qos: 1 })
  }
  return { rooms: [...rooms.keys()] }
}
