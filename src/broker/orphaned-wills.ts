import type { Aedes } from 'aedes'
import type { Logger } from 'pino'
import type { SessionStore, StoredWill } from '../storage/session-store.js'

/**
 * Publishes the wills left in the store by a broker that died (a crash, a
 * `kill -9`, a power cut) while their clients were connected: those clients'
 * network connections ended without a DISCONNECT, so their wills are owed
 * [MQTT-3.1.2-8]. Aedes would only get to them after four heartbeat
 * intervals (four minutes by default); a restarted broker sends them at once.
 *
 * Every will in the store belongs to a broker id other than this one (ids are
 * new at each start). With one node that is the old process. Nodes that
 * share the store name the peers they know to be alive in `livePeers` (broker
 * id → last heartbeat): their clients' wills stay theirs.
 */
export async function publishOrphanedWills(aedes: Aedes, persistence: SessionStore, log: Logger, livePeers: Readonly<Record<string, number>> = {}): Promise<number> {
  let sent = 0
  for await (const will of persistence.streamWill({ ...livePeers, [aedes.id]: Date.now() })) {
    const packet = will as StoredWill
    await publishWill(aedes, packet, log)
    await persistence.delWill({ id: packet.clientId, brokerId: packet.brokerId })
    sent++
  }
  if (sent > 0) log.info({ wills: sent }, 'published the wills of clients connected when the broker last stopped')
  return sent
}

/** Publishes a will taken from the store; a failure is logged. */
export function publishWill(aedes: Aedes, will: StoredWill, log: Logger): Promise<void> {
  return new Promise((resolve) => {
    aedes.publish({ cmd: 'publish', topic: will.topic!, payload: will.payload ?? Buffer.alloc(0), qos: (will.qos ?? 0) as 0 | 1 | 2, retain: will.retain === true, dup: false }, (err) => {
      if (err) log.warn({ err, clientId: will.clientId }, 'could not publish a will owed since its connection ended')
      resolve()
    })
  })
}
