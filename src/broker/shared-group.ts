import type { AedesPublishPacket, Client } from 'aedes'

/**
 * How a group picks the member for each message (`sharedSubscriptions.strategy`):
 * - `round_robin`: each member in turn;
 * - `random`: any member, with equal chance;
 * - `sticky`: by publishing client: the messages of one publisher go to one
 *   member, picked in turn the first time, for as long as it stays in the
 *   group (which keeps each publisher's messages in order).
 */
export type SharedStrategy = 'round_robin' | 'random' | 'sticky'

export const SHARED_STRATEGIES: readonly SharedStrategy[] = ['round_robin', 'random', 'sticky']

/** A client in a group, connected to this node. */
export interface Member {
  readonly clientId: string
  client: Client
  /** Whether its session outlives the connection (CleanSession=0). */
  persistent: boolean
  /** The QoS granted to its subscription. */
  qos: number
  /** Aedes' delivery function for the subscription (what Aedes hands back to unsubscribe). */
  func: unknown
  /** QoS 1/2 copies handed to it and not yet acknowledged: on leaving, they go to another member. */
  readonly unacked: Set<AedesPublishPacket>
}

/** The members of one shared subscription on this node, and whose turn it is. */
export class SharedGroup {
  readonly members: Member[] = []
  readonly #strategy: SharedStrategy
  #next = 0
  /** Publisher client id → member client id, for `sticky`. */
  readonly #stuck = new Map<string, string>()

  constructor(strategy: SharedStrategy) {
    this.#strategy = strategy
  }

  member(clientId: string): Member | undefined {
    return this.members.find((m) => m.clientId === clientId)
  }

  remove(member: Member): void {
    const at = this.members.indexOf(member)
    if (at < 0) return
    this.members.splice(at, 1)
    if (this.#next > at) this.#next--
    for (const [publisher, id] of this.#stuck) if (id === member.clientId) this.#stuck.delete(publisher)
  }

  /**
   * The connected member that takes this message (none other than those
   * `except` names), or undefined when none is connected.
   */
  pick(packet: AedesPublishPacket, except?: Member): Member | undefined {
    const n = this.members.length
    const online = (m: Member | undefined): m is Member => m !== undefined && m !== except && !m.client.closed
    if (this.#strategy === 'random') {
      const eligible = this.members.filter(online)
      return eligible[Math.floor(Math.random() * eligible.length)]
    }
    if (this.#strategy === 'sticky') {
      const publisher = (packet as { clientId?: string }).clientId ?? ''
      const stuck = this.#stuck.get(publisher)
      const member = stuck === undefined ? undefined : this.member(stuck)
      if (online(member)) return member
      const next = this.#inTurn(n, online)
      if (next) this.#stuck.set(publisher, next.clientId)
      return next
    }
    return this.#inTurn(n, online)
  }

  /** Whether a member is connected. */
  hasOnline(): boolean {
    return this.members.some((m) => !m.client.closed)
  }

  #inTurn(n: number, online: (m: Member | undefined) => m is Member): Member | undefined {
    for (let i = 0; i < n; i++) {
      const at = (this.#next + i) % n
      const member = this.members[at]
      if (online(member)) {
        this.#next = (at + 1) % n
        return member
      }
    }
    return undefined
  }
}
