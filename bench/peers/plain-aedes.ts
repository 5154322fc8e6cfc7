import { fileURLToPath } from 'node:url'
import { spawnPinned } from '../lib/child-processes.js'
import { freePort } from '../lib/ports.js'
import { BROKER_CPU, BROKER_NODE_OPTIONS, gcProbeOptions, lastLine, running, whenListening, type Peer } from './peer.js'

const SCRIPT = fileURLToPath(new URL('./plain-aedes.mjs', import.meta.url))

export function plainAedesPeer(root: string): Peer {
  return {
    id: 'aedes',
    label: 'Aedes (plain, in-memory)',
    async start({ websocket, collectOnSignal }) {
      const mqttPort = await freePort()
      const wsPort = websocket ? await freePort() : undefined
      const args = [...BROKER_NODE_OPTIONS, ...gcProbeOptions(collectOnSignal), SCRIPT, String(mqttPort), ...(wsPort ? [String(wsPort)] : [])]
      // cwd at the project root so that `aedes` and `ws` resolve from its node_modules.
      const spawned = spawnPinned({ cpu: BROKER_CPU, command: process.execPath, args, cwd: root })
      await whenListening(spawned, wsPort ? [mqttPort, wsPort] : [mqttPort], (output) => `plain Aedes exited: ${lastLine(output)}`)
      return running(spawned, mqttPort, wsPort ? `ws://127.0.0.1:${wsPort}/mqtt` : undefined, undefined, collectOnSignal)
    },
  }
}
