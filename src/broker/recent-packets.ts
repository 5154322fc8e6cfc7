import type { AedesPublishPacket } from 'aedes'

/**
 * The packets recently delivered to one client, by broker id and counter.
 * The copies of one message through overlapping subscriptions arrive within
 * one emit (or one stretch of a session's stored queue), so a short memory
 * is enough to tell them. This runs for every delivery. This broker numbers
 * its messages one after another, so its own are kept in a table indexed by
 * the counter's low bits: a look and a write, nothing allocated, and any of
 * the last 256 messages published is recognised. Other brokers' (a
 * cluster's) are keyed by id and counter, in a ring with a set beside it.
 */
export class RecentPackets {
  static readonly LOCAL_SLOTS = 256
  static readonly REMOTE_SIZE = 128
  readonly #localId: string
  // Made on the first delivery: an idle connection pays for none of it.
  #local: Float64Array | undefined
  #remote: Set<string> | undefined
  #remoteRing: string[] | undefined
  #remoteNext = 0

  constructor(localId: string) {
    this.#localId = localId
  }

  /** True when this packet was delivered already; otherwise remembers it. */
  repeat(packet: AedesPublishPacket): boolean {
    const id = packet.brokerId
    if (!id) return false
    if (id === this.#localId) {
      const counter = packet.brokerCounter
      const slots = (this.#local ??= new Float64Array(RecentPackets.LOCAL_SLOTS).fill(-1))
      // Counters are whole numbers below 2^53; `&` keeps their low bits.
      const slot = counter & (RecentPackets.LOCAL_SLOTS - 1)
      if (slots[slot] === counter) return true
      slots[slot] = counter
      return false
    }
    const key = `${id}:${packet.brokerCounter}`
    const seen = (this.#remote ??= new Set())
    if (seen.has(key)) return true
    const ring = (this.#remoteRing ??= new Array<string>(RecentPackets.REMOTE_SIZE).fill(''))
    seen.delete(ring[this.#remoteNext]!)
    ring[this.#remoteNext] = key
    this.#remoteNext = (this.#remoteNext + 1) % RecentPackets.REMOTE_SIZE
    seen.add(key)
    return false
  }
}
