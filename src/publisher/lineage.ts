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

/** The lineage of what follows from a message with `lineage`: one hop further. */
export function nextHop(lineage: Lineage): Lineage {
  return { hops: lineage.hops + 1, fromLoop: lineage.fromLoop }
}

interface WithProperties {
  properties?: { userProperties?: Record<string, string | string[]> } | undefined
}

export function lineageOf(packet: WithProperties): Lineage {
  const props = packet.properties?.userProperties
  if (!props) return ORIGIN
  const hops = Number(props[HOPS] ?? 0)
  return { hops: Number.isFinite(hops) ? hops : 0, fromLoop: props[LOOP] === '1' }
}

type LineageProperties = Readonly<{ userProperties: Readonly<Record<string, string>> }>

/** Made once per hop count: every republish carries one of a handful. */
const made = { plain: [] as LineageProperties[], fromLoop: [] as LineageProperties[] }

/** The packet properties that carry `lineage`; shared between packets, never to be changed. */
export function lineageProperties(lineage: Lineage): LineageProperties {
  const list = lineage.fromLoop ? made.fromLoop : made.plain
  const known = list[lineage.hops]
  if (known) return known
  const userProperties: Record<string, string> = { [HOPS]: String(lineage.hops) }
  if (lineage.fromLoop) userProperties[LOOP] = '1'
  return (list[lineage.hops] = Object.freeze({ userProperties: Object.freeze(userProperties) }))
}
