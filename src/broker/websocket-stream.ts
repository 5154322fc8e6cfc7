import type { Socket } from 'node:net'
import { Duplex } from 'node:stream'
import { WebSocket } from 'ws'

const STREAM = Symbol('switchyard.websocket-stream')

type Tagged = WebSocket & { [STREAM]: WebSocketStream }

/**
 * MQTT over a server-side WebSocket as the byte stream Aedes reads and
 * writes. It is ws' createWebSocketStream (lib/stream.js, ws 8) with two
 * changes:
 *
 * - Its methods are on the prototype and its listeners are shared by every
 *   connection. createWebSocketStream makes five methods and three
 *   WebSocket listeners as closures of each stream, with the wrappers of
 *   `once`: about 1 KB of every idle connection (bench/LIMITS.md, Idle
 *   connections).
 * - What is written while it is corked leaves as one binary frame
 *   (`_writev`). mqtt-packet writes a PUBLISH in four or five chunks, and
 *   createWebSocketStream sends each chunk as a frame of its own, each
 *   waiting for the last: each delivery was that many frames and socket
 *   writes. MQTT over WebSocket lets a frame hold several packets or parts
 *   of one [MQTT-6.0.0-2]; MQTT.js and the other clients parse a byte stream.
 *
 * The WebSocket is open when it is handed over (WebSocketServer's
 * handleUpgrade), so the waits of createWebSocketStream for a client's
 * handshake are left out. `socket` is the one under the WebSocket.
 */
export class WebSocketStream extends Duplex {
  readonly #ws: WebSocket
  readonly #socket: Socket
  /** The peer's address, for the log. */
  readonly remoteAddress: string
  /** False once the WebSocket reported an error: it closes itself, sending a close frame, which terminating would cut off. */
  #terminateOnDestroy = true

  constructor(ws: WebSocket, socket: Socket, remoteAddress: string) {
    super({ autoDestroy: false, emitClose: false, objectMode: false, writableObjectMode: false })
    this.#ws = ws
    this.#socket = socket
    this.remoteAddress = remoteAddress
    ;(ws as Tagged)[STREAM] = this
    ws.on('message', WebSocketStream.#onMessage)
    // ws emits 'error' and 'close' once each.
    ws.on('error', WebSocketStream.#onError)
    ws.on('close', WebSocketStream.#onClose)
    this.on('end', WebSocketStream.#onEnd)
    this.on('error', WebSocketStream.#onStreamError)
  }

  static #onMessage(this: WebSocket, data: Buffer): void {
    if (!(this as Tagged)[STREAM].push(data)) this.pause()
  }

  static #onError(this: WebSocket, err: Error): void {
    const stream = (this as Tagged)[STREAM]
    if (stream.destroyed) return
    stream.#terminateOnDestroy = false
    stream.destroy(err)
  }

  static #onClose(this: WebSocket): void {
    const stream = (this as Tagged)[STREAM]
    if (stream.destroyed) return
    stream.push(null)
  }

  /** Both sides are done: nothing more can pass. */
  static #onEnd(this: WebSocketStream): void {
    if (!this.destroyed && this.writableFinished) this.destroy()
  }

  /** The first error destroys the stream; thrown on if nobody else listens, as an EventEmitter does. */
  static #onStreamError(this: WebSocketStream, err: Error): void {
    this.removeListener('error', WebSocketStream.#onStreamError)
    this.destroy()
    if (this.listenerCount('error') === 0) this.emit('error', err)
  }

  override _read(): void {
    if (this.#ws.isPaused) this.#ws.resume()
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (err?: Error | null) => void): void {
    this.#ws.send(chunk, callback)
  }

  override _writev(chunks: Array<{ chunk: Buffer | string; encoding: BufferEncoding }>, callback: (err?: Error | null) => void): void {
    const bytes = chunks.length === 1
      ? chunks[0]!.chunk
      : Buffer.concat(chunks.map(({ chunk, encoding }) => (Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk, encoding))))
    this.#ws.send(bytes, callback)
  }

  override _final(callback: (err?: Error | null) => void): void {
    if (this.#socket.writableFinished) {
      callback()
      if (this.readableEnded) this.destroy()
      return
    }
    // Not destroyed here: 'end' follows, once the WebSocket's close pushes the end of the stream.
    this.#socket.once('finish', () => callback())
    this.#ws.close()
  }

  override _destroy(err: Error | null, callback: (err?: Error | null) => void): void {
    const ws = this.#ws
    if (ws.readyState === WebSocket.CLOSED) {
      callback(err)
      process.nextTick(emitClose, this)
      return
    }
    let called = false
    ws.once('error', (error: Error) => {
      called = true
      callback(error)
    })
    ws.once('close', () => {
      if (!called) callback(err)
      process.nextTick(emitClose, this)
    })
    if (this.#terminateOnDestroy) ws.terminate()
  }
}

function emitClose(stream: Duplex): void {
  stream.emit('close')
}
