import { Aedes } from 'aedes'
import { createRequire } from 'node:module'
import { Duplex } from 'node:stream'
import { DependencyError } from '../../errors.js'
import { AEDES_POINTS } from './aedes.js'
import { CLIENT_POINTS } from './client.js'
import { MQTT_PACKET_POINTS } from './mqtt-packet.js'
import type { Point, Probe } from './points.js'

export interface Versions {
  aedes: string
  mqttPacket: string
}

/** The versions the code in this folder is written for; package.json pins them. */
export const EXPECTED_VERSIONS: Readonly<Versions> = Object.freeze({ aedes: '1.2.0', mqttPacket: '9.0.2' })

/** Every private part of Aedes and mqtt-packet that src/broker uses. */
export const POINTS: readonly Point[] = [...AEDES_POINTS, ...CLIENT_POINTS, ...MQTT_PACKET_POINTS]

/**
 * The installed aedes, and the mqtt-packet it loads, as their package.json
 * files say. Aedes exports no `./package.json`: its file is found beside
 * its entry point, and mqtt-packet's from there as Aedes resolves it.
 */
export function installedVersions(): Versions {
  const read = (from: string, id: string) => {
    try {
      return (createRequire(from)(id) as { version: string }).version
    } catch {
      return 'unknown'
    }
  }
  const aedesEntry = createRequire(import.meta.url).resolve('aedes')
  return { aedes: read(aedesEntry, './package.json'), mqttPacket: read(aedesEntry, 'mqtt-packet/package.json') }
}

/**
 * Checks that every patch point is there, in the shape the code in this
 * folder assumes, and otherwise throws a DependencyError that names the
 * versions and the missing points. Without a probe it makes its own: a
 * client of an Aedes instance that is never started, on a stream that
 * carries nothing, closed before this returns.
 */
export function checkAedesInternals(probe?: Probe, installed?: Versions): void {
  if (!probe) {
    const broker = new Aedes()
    const client = broker.handle(new Duplex({ read() {}, write: (_chunk, _encoding, callback) => callback() }))
    try {
      return checkAedesInternals({ broker, client }, installed)
    } finally {
      // Stops its connect timer; a client that never connected touches no store.
      client.close()
    }
  }
  const missing = POINTS.filter((point) => !presentIn(point, probe)).map((point) => point.name)
  if (missing.length === 0) return
  const v = installed ?? installedVersions()
  const want = EXPECTED_VERSIONS
  throw new DependencyError(
    `aedes ${v.aedes} (with mqtt-packet ${v.mqttPacket}) is installed, but Switchyard is written for aedes ${want.aedes} (with mqtt-packet ${want.mqttPacket}) and relies on ${missing.join(', ')}, which ${missing.length === 1 ? 'is' : 'are'} missing or changed: install the versions Switchyard pins (npm install aedes@${want.aedes} mqtt-packet@${want.mqttPacket}).`,
  )
}

/**
 * A sentence when the installed versions are not the pinned ones though
 * every point checked out (an install that overrode the pins): the patches
 * may still rely on behaviour the check cannot see.
 */
export function versionDrift(installed: Versions = installedVersions()): string | undefined {
  const want = EXPECTED_VERSIONS
  if (installed.aedes === want.aedes && installed.mqttPacket === want.mqttPacket) return undefined
  return `aedes ${installed.aedes} (with mqtt-packet ${installed.mqttPacket}) is installed; Switchyard is written and tested for aedes ${want.aedes} (with mqtt-packet ${want.mqttPacket}). Every point it patches is there, but install the pinned versions to run what was tested.`
}

function presentIn(point: Point, probe: Probe): boolean {
  try {
    return point.present(probe)
  } catch {
    return false
  }
}
