import { spawnSync } from 'node:child_process'
import { existsSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { spawnPinned } from '../lib/child-processes.js'
import { freePort } from '../lib/ports.js'
import { BROKER_CPU, lastLine, PeerUnavailable, running, whenListening, type Peer } from './peer.js'

const MOSQUITTO = '/usr/sbin/mosquitto'

export interface MosquittoConfigOptions {
  mqttPort: number
  wsPort?: number | undefined
}

/**
 * Mosquitto as packaged by Debian, with persistence off. Two settings differ
 * from its defaults, both to measure the same thing as on Aedes:
 * `set_tcp_nodelay` (Aedes' sockets have no Nagle delay either), and
 * `max_queued_messages 0`, because Mosquitto 2 otherwise drops messages
 * beyond 1,000 queued per client, QoS 0 included, where Aedes queues them all.
 * The generator's windows keep the queues bounded anyway.
 */
export function mosquittoConfig({ mqttPort, wsPort }: MosquittoConfigOptions): string {
  const lines = [
    'persistence false',
    'allow_anonymous true',
    'set_tcp_nodelay true',
    'max_queued_messages 0',
    'log_dest stderr',
    'log_type error',
    'log_type warning',
    `listener ${mqttPort} 127.0.0.1`,
  ]
  if (wsPort) lines.push(`listener ${wsPort} 127.0.0.1`, 'protocol websockets')
  return `${lines.join('\n')}\n`
}

/**
 * Installs Debian's mosquitto package when the broker is missing (a fresh
 * machine); returns why it is still missing, if it is.
 */
export function installMosquittoIfMissing(): string | undefined {
  if (existsSync(MOSQUITTO)) return undefined
  if (process.getuid?.() !== 0) return `${MOSQUITTO} is not installed, and installing it needs root: apt-get install -y mosquitto`
  console.log('installing mosquitto (apt-get install -y mosquitto)…')
  const result = spawnSync('apt-get', ['install', '-y', 'mosquitto'], { stdio: 'inherit', timeout: 300_000 })
  if (existsSync(MOSQUITTO)) return undefined
  return `apt-get install -y mosquitto failed (exit ${result.status ?? result.signal})`
}

export function mosquittoPeer(): Peer {
  return {
    id: 'mosquitto',
    label: 'Mosquitto',
    async start({ workDir, websocket }) {
      if (!existsSync(MOSQUITTO)) throw new PeerUnavailable(`${MOSQUITTO} is not installed (apt-get install -y mosquitto)`)
      const mqttPort = await freePort()
      const wsPort = websocket ? await freePort() : undefined
      const configFile = join(workDir, 'mosquitto.conf')
      writeFileSync(configFile, mosquittoConfig({ mqttPort, wsPort }))
      const spawned = spawnPinned({ cpu: BROKER_CPU, command: MOSQUITTO, args: ['-c', configFile], cwd: workDir })
      await whenListening(spawned, wsPort ? [mqttPort, wsPort] : [mqttPort], (output) => `Mosquitto exited: ${lastLine(output)}`)
      return running(spawned, mqttPort, wsPort ? `ws://127.0.0.1:${wsPort}/mqtt` : undefined)
    },
  }
}
