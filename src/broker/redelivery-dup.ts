import { pipeline, Transform, type Readable } from 'node:stream'
import type { SessionStore } from '../storage/session-store.js'
import type { ClientRef, StoredPacket } from '../storage/session-types.js'
import { wrapPersistence } from './timed-persistence.js'

/**
 * The session store as the broker uses it: a PUBLISH that a persistent
 * session's queue hands back at CONNECT with a packet identifier was sent
 * before, and is resent with DUP set [MQTT-3.3.1-1]. Aedes 1.2 resends it
 * as it was first written, DUP clear (lib/handlers/connect.js, `emptyQueue`).
 *
 * Aedes gives a queued message its packet identifier as it writes it
 * (storing it with outgoingUpdate first), so a message queued while the
 * client was away has none and goes out with DUP clear, as a first
 * attempt. PUBREL has no DUP flag in MQTT 3.1.1 and passes as it is.
 */
export function markRedeliveries(store: SessionStore): SessionStore {
  const wrapper = wrapPersistence(store, (_op, call) => call(), [])
  wrapper.outgoingStream = (client: ClientRef): Readable => {
    const mark = new Transform({
      objectMode: true,
      transform(packet: StoredPacket, _encoding, next) {
        next(null, packet.cmd === 'publish' && typeof packet.messageId === 'number' ? { ...packet, dup: true } : packet)
      },
    })
    // An error of the store's stream reaches Aedes through `mark`; Aedes destroying `mark` stops the store's.
    return pipeline(store.outgoingStream(client), mark, () => {})
  }
  return wrapper
}
