import { mosquittoPeer } from './mosquitto.js'
import type { Peer } from './peer.js'
import { plainAedesPeer } from './plain-aedes.js'
import { switchyardPeer, type SwitchyardSetup } from './switchyard.js'
import { switchyardClusterPeer } from './switchyard-cluster.js'
import type { SwitchyardBuild } from './switchyard-build.js'
import { chatRules, invokeEcho, storeAll } from './switchyard-setups.js'

export type SwitchyardPeerId = 'switchyard' | 'switchyard-1k' | 'switchyard-10' | 'switchyard-10k' | 'switchyard-chat' | 'switchyard-store' | 'switchyard-fn' | 'switchyard-cluster' | 'switchyard-cluster-3' | 'switchyard-cluster-fn'
/** The same setup run on the `--baseline` build: `switchyard-1k` has `switchyard-baseline-1k`. */
export type BaselinePeerId = SwitchyardPeerId extends infer Id ? (Id extends `switchyard${infer Setup}` ? `switchyard-baseline${Setup}` : never) : never
export type PeerId = SwitchyardPeerId | BaselinePeerId | 'aedes' | 'mosquitto'

/** `nodes`: a cluster of that many nodes on one Redis (switchyard-cluster.ts); one broker without it. */
const SWITCHYARD: Record<SwitchyardPeerId, { label: string; setup?: SwitchyardSetup; nodes?: number }> = {
  'switchyard': { label: 'Switchyard, no rules' },
  'switchyard-1k': { label: 'Switchyard, 1,000 rules (10 matching)', setup: { rules: { matching: 10, nonMatching: 990 } } },
  'switchyard-10': { label: 'Switchyard, 10 non-matching rules', setup: { rules: { matching: 0, nonMatching: 10 } } },
  'switchyard-10k': { label: 'Switchyard, 10,000 non-matching rules', setup: { rules: { matching: 0, nonMatching: 10_000 } } },
  'switchyard-chat': { label: 'Switchyard, chat rules', setup: chatRules },
  'switchyard-store': { label: 'Switchyard, store action', setup: storeAll },
  'switchyard-fn': { label: 'Switchyard, rule invoking a local function', setup: invokeEcho },
  'switchyard-cluster': { label: 'Switchyard cluster, 2 nodes on Redis', nodes: 2 },
  'switchyard-cluster-3': { label: 'Switchyard cluster, 3 nodes on Redis', nodes: 3 },
  'switchyard-cluster-fn': { label: 'Switchyard cluster, 2 nodes on Redis, rule invoking a local function', setup: invokeEcho, nodes: 2 },
}

/** Every peer id, for checking `--peers`. */
export const PEER_IDS: readonly PeerId[] = [...(Object.keys(SWITCHYARD) as SwitchyardPeerId[]).flatMap((id) => [id, baselineOf(id)!]), 'aedes', 'mosquitto']

/** The baseline twin of a Switchyard peer; none for the other brokers (and for twins). */
export function baselineOf(id: PeerId): BaselinePeerId | undefined {
  return id in SWITCHYARD ? (`switchyard-baseline${id.slice('switchyard'.length)}` as BaselinePeerId) : undefined
}

export function isBaseline(id: PeerId): id is BaselinePeerId {
  return id.startsWith('switchyard-baseline')
}

/** A case's peers with each Switchyard peer's baseline twin right after it. */
export function withBaselines(peers: readonly PeerId[]): PeerId[] {
  return peers.flatMap((id) => [id, baselineOf(id)].filter((x) => x !== undefined))
}

export interface Builds {
  /** This checkout's build. */
  current: SwitchyardBuild
  /** The `--baseline` ref's build, and the name the twins' labels give it. */
  baseline?: { build: SwitchyardBuild; name: string }
}

/** Every broker configuration the scenarios can name, and each Switchyard one again on the baseline build. */
export function createPeers(root: string, builds: Builds): Record<PeerId, Peer> {
  const peers = { aedes: plainAedesPeer(root), mosquitto: mosquittoPeer() } as Record<PeerId, Peer>
  for (const [id, { label, setup, nodes }] of Object.entries(SWITCHYARD) as Array<[SwitchyardPeerId, (typeof SWITCHYARD)[SwitchyardPeerId]]>) {
    const peer = (peerId: PeerId, peerLabel: string, build: SwitchyardBuild) =>
      nodes ? switchyardClusterPeer(peerId, peerLabel, build, nodes, setup) : switchyardPeer(peerId, peerLabel, build, setup)
    peers[id] = peer(id, label, builds.current)
    const twin = baselineOf(id)!
    const baseline = builds.baseline ?? { build: { failure: 'no --baseline given' }, name: 'none' }
    peers[twin] = peer(twin, `${label}, baseline ${baseline.name}`, baseline.build)
  }
  return peers
}
