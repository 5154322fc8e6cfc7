/**
 * Where a message came from, for the loop guard. A message that a rule (or a
 * function, or the router) publishes carries how many such steps led to it,
 * and whether a loop event is among its ancestors. It travels in the packet's
 * MQTT 5 user properties, which Aedes keeps when it copies a packet and which
 * are never written to MQTT 3.1.1 subscribers.
 */
export interface Lineage {
  hops: number
  /** True when the message follows from a `$events/rules/.../loop` event. */
  fromLoop: boolean
}

const HOPS = 'switchyard-hops'
const LOOP = 'switchyard-loop'

export const ORIGIN: Lineage = Object.freeze({ hops: 0, fromLoop: false })

interface WithProperties {
  properties?: { userProperties?: Record<string, string | string[]> } | undefined
}

export function lineageOf(packet: WithProperties): Lineage {
  const props = packet.properties?.userProperties
  if (!props) return ORIGIN
  const hops = Number(props[HOPS] ?? 0)
  return { hops: Number.isFinite(hops) ? hops : 0, fromLoop: props[LOOP] === '1' }
}

export function lineageProperties(lineage: Lineage): { userProperties: Record<string, string> } {
  return { userProperties: lineage.fromLoop ? { [HOPS]: String(lineage.hops), [LOOP]: '1' } : { [HOPS]: String(lineage.hops) } }
}
