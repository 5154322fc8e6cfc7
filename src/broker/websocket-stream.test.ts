import { once } from 'node:events'
import { createServer, type IncomingMessage, type Server } from 'node:http'
import type { AddressInfo, Socket } from 'node:net'
import type { Duplex } from 'node:stream'
import { afterEach, describe, expect, it } from 'vitest'
import { createWebSocketStream, WebSocket, WebSocketServer } from 'ws'
import { waitUntil } from '../../test/helpers/wait.js'
import { WebSocketStream } from './websocket-stream.js'

// One spec, two implementations: ws' own createWebSocketStream (with the
// `_writev` that sent a corked batch as one frame, as the listener had it)
// and WebSocketStream, which must behave the same.

type MakeStream = (ws: WebSocket, socket: Socket) => Duplex

const reference: MakeStream = (ws) => {
  const stream = createWebSocketStream(ws)
  stream._writev = (chunks, callback) => {
    stream._write(Buffer.concat(chunks.map(({ chunk }) => chunk as Buffer)), 'buffer' as BufferEncoding, callback)
  }
  return stream
}
const own: MakeStream = (ws, socket) => new WebSocketStream(ws, socket, socket.remoteAddress!)

const MAX_PAYLOAD = 4096
let server: Server | undefined
const clients: WebSocket[] = []
afterEach(async () => {
  for (const c of clients.splice(0)) c.terminate()
  if (server) await new Promise((resolve) => server!.close(resolve))
  server = undefined
})

/** A WebSocket server whose connections become streams, and a client connected to it. */
async function pair(make: MakeStream): Promise<{ stream: Duplex; ws: WebSocket; client: WebSocket; received: Buffer[] }> {
  const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false, maxPayload: MAX_PAYLOAD, clientTracking: false })
  server ??= createServer()
  const made: Array<{ stream: Duplex; ws: WebSocket }> = []
  server.removeAllListeners('upgrade')
  server.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => {
    wss.handleUpgrade(req, socket, head, (ws) => made.push({ stream: make(ws, socket), ws }))
  })
  if (!server.listening) {
    server.listen(0, '127.0.0.1')
    await once(server, 'listening')
  }
  const client = new WebSocket(`ws://127.0.0.1:${(server.address() as AddressInfo).port}/`)
  clients.push(client)
  const received: Buffer[] = []
  client.on('message', (data: Buffer) => received.push(data))
  await once(client, 'open')
  await waitUntil(() => made.length > 0, { what: 'the server side of the WebSocket' })
  return { ...made[0]!, client, received }
}

describe.each([['createWebSocketStream', reference], ['WebSocketStream', own]] as const)('%s', (_name, make) => {
  it('carries bytes both ways, in order', async () => {
    const { stream, client, received } = await pair(make)
    const read: Buffer[] = []
    stream.on('data', (chunk: Buffer) => read.push(chunk))
    for (const text of ['a', 'bc', 'def']) client.send(Buffer.from(text))
    stream.write(Buffer.from('xy'))
    stream.write(Buffer.from('z'))
    await waitUntil(() => Buffer.concat(read).length === 6 && received.length === 2, { what: 'both ways\' bytes' })
    expect(Buffer.concat(read).toString()).toBe('abcdef')
    expect(received.map(String)).toEqual(['xy', 'z'])
  })

  it('sends what was written while corked as one frame', async () => {
    const { stream, received } = await pair(make)
    stream.cork()
    for (const text of ['one ', 'two ', 'three']) stream.write(Buffer.from(text))
    stream.uncork()
    await waitUntil(() => received.length === 1, { what: 'a frame' })
    expect(received[0]!.toString()).toBe('one two three')
  })

  it('pauses the WebSocket while what it received is not read, and resumes it when it is', async () => {
    const { stream, ws, client } = await pair(make)
    for (let i = 0; i < 20; i++) client.send(Buffer.alloc(MAX_PAYLOAD))
    await waitUntil(() => ws.isPaused, { what: 'the WebSocket paused' })
    let bytes = 0
    stream.on('data', (chunk: Buffer) => (bytes += chunk.length))
    await waitUntil(() => bytes === 20 * MAX_PAYLOAD, { what: 'every byte read' })
    expect(ws.isPaused).toBe(false)
  })

  it('ends when the client closes, and closes once destroyed', async () => {
    const { stream, client } = await pair(make)
    stream.resume()
    const ended = once(stream, 'end')
    client.close(1000)
    await ended
    const closed = once(stream, 'close')
    stream.destroy()
    await closed
  })

  it('sends a close frame when ended, and closes once the client has answered it', async () => {
    const { stream, client } = await pair(make)
    stream.resume()
    const clientClosed = once(client, 'close') as Promise<[number]>
    const closed = once(stream, 'close')
    stream.end()
    expect((await clientClosed)[0]).toBe(1005)
    await closed
  })

  it('cuts the connection off when destroyed', async () => {
    const { stream, client } = await pair(make)
    const clientClosed = once(client, 'close') as Promise<[number]>
    const closed = once(stream, 'close')
    stream.destroy()
    expect((await clientClosed)[0]).toBe(1006)
    await closed
  })

  it('fails with ws\' error for a frame larger than maxPayload, closing the connection with 1009', async () => {
    const { stream, client } = await pair(make)
    const failed = once(stream, 'error') as Promise<[Error & { code?: string }]>
    const clientClosed = once(client, 'close') as Promise<[number]>
    client.send(Buffer.alloc(MAX_PAYLOAD + 1))
    expect((await failed)[0].code).toBe('WS_ERR_UNSUPPORTED_MESSAGE_LENGTH')
    expect((await clientClosed)[0]).toBe(1009)
    await waitUntil(() => stream.destroyed, { what: 'the stream destroyed' })
  })
})

describe('WebSocketStream', () => {
  it('makes no function for a connection: every stream and WebSocket has the same listeners and methods', async () => {
    const a = await pair(own)
    const b = await pair(own)
    for (const event of ['message', 'error', 'close']) expect(a.ws.listeners(event)).toEqual(b.ws.listeners(event))
    for (const event of ['end', 'error']) expect(a.stream.listeners(event)).toEqual(b.stream.listeners(event))
    expect(Object.keys(a.stream).filter((key) => typeof (a.stream as unknown as Record<string, unknown>)[key] === 'function')).toEqual([])
  })
})
