import { mosquittoPeer } from './mosquitto.js'
import type { Peer } from './peer.js'
import { plainAedesPeer } from './plain-aedes.js'
import { switchyardPeer } from './switchyard.js'
import type { SwitchyardBuild } from './switchyard-build.js'
import { chatRules, invokeEcho, storeAll } from './switchyard-setups.js'

export type PeerId = 'switchyard' | 'switchyard-1k' | 'aedes' | 'mosquitto' | 'switchyard-10' | 'switchyard-10k' | 'switchyard-chat' | 'switchyard-store' | 'switchyard-fn'

/** Every broker configuration the scenarios can name; the Switchyard ones run `build`. */
export function createPeers(root: string, build: SwitchyardBuild): Record<PeerId, Peer> {
  return {
    'switchyard': switchyardPeer('switchyard', 'Switchyard, no rules', build),
    'switchyard-1k': switchyardPeer('switchyard-1k', 'Switchyard, 1,000 rules (10 matching)', build, { rules: { matching: 10, nonMatching: 990 } }),
    'aedes': plainAedesPeer(root),
    'mosquitto': mosquittoPeer(),
    'switchyard-10': switchyardPeer('switchyard-10', 'Switchyard, 10 non-matching rules', build, { rules: { matching: 0, nonMatching: 10 } }),
    'switchyard-10k': switchyardPeer('switchyard-10k', 'Switchyard, 10,000 non-matching rules', build, { rules: { matching: 0, nonMatching: 10_000 } }),
    'switchyard-chat': switchyardPeer('switchyard-chat', 'Switchyard, chat rules', build, chatRules),
    'switchyard-store': switchyardPeer('switchyard-store', 'Switchyard, store action', build, storeAll),
    'switchyard-fn': switchyardPeer('switchyard-fn', 'Switchyard, rule invoking a local function', build, invokeEcho),
  }
}
