import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { stopProcess } from '../lib/child-processes.js'
import { PeerUnavailable, type Peer, type RunningPeer } from './peer.js'
import { startRedis } from './redis-server.js'
import { startSwitchyard, type SwitchyardSetup } from './switchyard.js'
import type { SwitchyardBuild } from './switchyard-build.js'

/** node-a, node-b, ...: the nodes' ids in the config, and their names in the report. */
export function nodeName(index: number): string {
  return `node-${String.fromCharCode(97 + index)}`
}

/**
 * A Switchyard cluster: a fresh Redis (redis-server.ts) and `nodeCount`
 * nodes on it, each a `switchyard start` of its own with its own config,
 * SQLite file and ports, all started one after another. Redis and every node
 * are pinned to the brokers' core, so that the cluster has the one core a
 * single broker has, and all of them count as the broker: CPU per delivery
 * is their sum. Scenarios choose which node their clients connect to
 * (`nodes`).
 */
export function switchyardClusterPeer(id: string, label: string, build: SwitchyardBuild, nodeCount: number, setup: SwitchyardSetup = {}): Peer {
  return {
    id,
    label,
    async start({ workDir }) {
      if ('failure' in build) throw new PeerUnavailable(build.failure)
      const redis = await startRedis(join(workDir, 'redis'))
      const nodes: RunningPeer[] = []
      const stop = async () => {
        // The nodes first, so that none sees Redis gone and logs about it.
        await Promise.all(nodes.map((node) => node.stop()))
        await stopProcess(redis.spawned)
      }
      try {
        for (let i = 0; i < nodeCount; i++) {
          const dir = join(workDir, nodeName(i))
          mkdirSync(dir)
          nodes.push(await startSwitchyard(build, setup, dir, { redis: redis.url, nodeId: nodeName(i) }))
        }
      } catch (err) {
        await stop()
        throw err
      }
      const first = nodes[0]!
      return {
        ...first,
        nodes: nodes.map((node, i) => ({ name: nodeName(i), pid: node.pid, mqttPort: node.mqttPort, wsUrl: node.wsUrl })),
        processes: [...nodes.map((node, i) => ({ name: nodeName(i), pid: node.pid })), { name: 'redis', pid: redis.pid, children: true }],
        alive: () => redis.spawned.exit === undefined && nodes.every((node) => node.alive()),
        stop,
      }
    },
  }
}
