import mqttPacket from 'mqtt-packet'
import { createConnection } from 'node:net'

export interface LoginOptions {
  clientId: string
  username?: string
  password?: string
  /** The loopback address the connection comes from: Linux routes all of 127.0.0.0/8 to a listener on 127.0.0.1. */
  localAddress?: string
  /** How long to wait for the CONNACK, in ms. */
  timeout?: number
}

export interface LoginResult {
  /** The CONNACK's return code, or how the connection ended without one. */
  code: number | 'closed' | 'timeout'
  /** From the CONNECT written to the answer. */
  ms: number
}

/**
 * One MQTT 3.1.1 CONNECT on a connection of its own, timed from the moment
 * it is written to the CONNACK. The connection is closed once answered.
 */
export function login(port: number, options: LoginOptions): Promise<LoginResult> {
  const { clientId, username, password, localAddress = '127.0.0.1', timeout = 30_000 } = options
  return new Promise((resolve) => {
    const socket = createConnection({ port, host: '127.0.0.1', localAddress })
    const parser = mqttPacket.parser({ protocolVersion: 4 })
    let sentAt = performance.now()
    let timer: NodeJS.Timeout | undefined
    const done = (code: LoginResult['code']) => {
      clearTimeout(timer)
      socket.destroy()
      resolve({ code, ms: performance.now() - sentAt })
    }
    parser.on('packet', (packet) => {
      if (packet.cmd === 'connack') done(packet.returnCode ?? 0)
    })
    socket.on('data', (data) => parser.parse(data))
    socket.on('error', () => {})
    socket.once('close', () => done('closed'))
    socket.once('connect', () => {
      sentAt = performance.now()
      timer = setTimeout(() => done('timeout'), timeout)
      socket.write(mqttPacket.generate({
        cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, keepalive: 60, clientId,
        ...(username === undefined ? {} : { username }),
        ...(password === undefined ? {} : { password: Buffer.from(password) }),
      }))
    })
  })
}

/** The middle value (the mean of the two middle ones for an even count). */
export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
}
