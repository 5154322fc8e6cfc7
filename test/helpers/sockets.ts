import { randomBytes } from 'node:crypto'
import mqttPacket, { type IConnectPacket, type Packet } from 'mqtt-packet'
import { connect as connectTcp, type Socket } from 'node:net'
import { within } from './wait.js'

/**
 * Plain sockets for the tests of what happens before a client has said who
 * it is. `from` is the local address to connect from: on Linux any address
 * of 127.0.0.0/8 is the loopback, so 127.0.0.2 stands for another machine.
 */

/** A TCP connection to 127.0.0.1:`port` from `from`; the caller destroys it (f.defer). */
export function openSocket(port: number, from = '127.0.0.1'): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connectTcp({ port, host: '127.0.0.1', localAddress: from }, () => {
      socket.off('error', reject)
      socket.on('error', () => {})
      resolve(socket)
    })
    socket.once('error', reject)
  })
}

/**
 * Resolves once the socket is closed (at once if it is). What still comes
 * is read and dropped: a socket closes only once what it received is read.
 */
export function whenClosed(socket: Socket): Promise<void> {
  return new Promise((resolve) => {
    if (socket.destroyed) return resolve()
    socket.once('close', () => resolve())
    socket.resume()
  })
}

/** Rejects unless every socket closes within `ms`: the broker closed them, as the client never does here. */
export function allClosed(sockets: Socket[], ms: number, what: string): Promise<void[]> {
  return within(Promise.all(sockets.map(whenClosed)), ms, what)
}

/** A CONNECT with these fields. */
export function connectPacket(fields: Partial<IConnectPacket> & { clientId: string }): Buffer {
  return mqttPacket.generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, keepalive: 60, ...fields } as IConnectPacket)
}

/**
 * The fixed header of a packet whose remaining length is `length`, and the
 * first `sent` bytes of its body (random): a packet that is announced and
 * never finished.
 */
export function unfinishedPacket(firstByte: number, length: number, sent: number): Buffer {
  const header = [firstByte]
  let rest = length
  do {
    let byte = rest % 128
    rest = Math.floor(rest / 128)
    if (rest > 0) byte |= 0x80
    header.push(byte)
  } while (rest > 0)
  return Buffer.concat([Buffer.from(header), randomBytes(sent)])
}

/** How a CONNECT from `from` ends: the CONNACK's return code, or 'closed' when the socket closed without one. */
export async function connectFrom(port: number, from: string, clientId: string): Promise<number | 'closed'> {
  const socket = await openSocket(port, from)
  const parser = mqttPacket.parser({ protocolVersion: 4 })
  try {
    return await within(new Promise<number | 'closed'>((resolve) => {
      parser.on('packet', (packet: Packet) => {
        if (packet.cmd === 'connack') resolve(packet.returnCode ?? 0)
      })
      socket.on('data', (data) => parser.parse(data))
      socket.once('close', () => resolve('closed'))
      socket.write(connectPacket({ clientId }))
    }), 5000, `an answer to the CONNECT of ${clientId} from ${from}`)
  } finally {
    socket.destroy()
  }
}

/**
 * A WebSocket upgrade to `/mqtt` from `from`, by hand: resolves with the
 * HTTP status and the socket, which then carries WebSocket frames.
 */
export async function upgradeFrom(port: number, from = '127.0.0.1'): Promise<{ status: number; socket: Socket }> {
  const socket = await openSocket(port, from)
  const status = await within(new Promise<number>((resolve) => {
    let head = ''
    const onData = (data: Buffer) => {
      head += data.toString('latin1')
      const end = head.indexOf('\r\n\r\n')
      if (end === -1) return
      socket.off('data', onData)
      resolve(Number(head.slice(9, 12)))
    }
    socket.on('data', onData)
    socket.once('close', () => resolve(0))
    socket.write([
      'GET /mqtt HTTP/1.1', `Host: 127.0.0.1:${port}`, 'Upgrade: websocket', 'Connection: Upgrade',
      `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}`, 'Sec-WebSocket-Version: 13', 'Sec-WebSocket-Protocol: mqtt', '', '',
    ].join('\r\n'))
  }), 5000, `the answer to a WebSocket upgrade from ${from}`)
  return { status, socket }
}

/**
 * The header of a masked binary WebSocket frame from a client announcing
 * `length` bytes of payload [RFC 6455 5.2]; the payload that follows may be
 * anything, as the server unmasks it.
 */
export function clientFrameHeader(length: number): Buffer {
  const header = Buffer.alloc(14)
  header[0] = 0x82
  header[1] = 0x80 | 127
  header.writeBigUInt64BE(BigInt(length), 2)
  randomBytes(4).copy(header, 10)
  return header
}
