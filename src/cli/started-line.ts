import type { AddressInfo } from 'node:net'
import type { AppAddresses } from '../app.js'

/**
 * The one line `switchyard start` prints for a person once it listens:
 * where the chat is and where MQTT clients connect. The JSON log line
 * "Switchyard started" says the same for machines.
 *
 *   Switchyard is running: chat http://127.0.0.1:8080/ · MQTT mqtt://127.0.0.1:1883 · WebSocket ws://127.0.0.1:8080/mqtt
 */
export function startedLine(addresses: AppAddresses): string {
  const parts = [
    `chat ${url('http', addresses.http)}/`,
    `MQTT ${url('mqtt', addresses.mqtt)}`,
    `WebSocket ${url('ws', addresses.http)}/mqtt`,
  ]
  if (addresses.https) parts.push(`HTTPS ${url('https', addresses.https)}/`, `secure WebSocket ${url('wss', addresses.https)}/mqtt`)
  if (addresses.mqtts) parts.push(`MQTT over TLS ${url('mqtts', addresses.mqtts)}`)
  return `Switchyard is running: ${parts.join(' · ')}`
}

/** A listener on every interface is reached on this machine at loopback: a URL a browser here can open. */
function url(scheme: string, address: AddressInfo): string {
  const host = address.address === '0.0.0.0' ? '127.0.0.1' : address.address === '::' ? '::1' : address.address
  return `${scheme}://${host.includes(':') ? `[${host}]` : host}:${address.port}`
}
