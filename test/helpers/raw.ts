import { connect as connectTcp } from 'node:net'

/**
 * Sends raw bytes on a new TCP connection to 127.0.0.1:`port`; resolves once
 * the broker closes it, rejects if it has not within 2 s. With `endAfter`
 * the client ends its side right after the bytes.
 */
export function sendRawUntilClosed(port: number, bytes: Buffer, endAfter = false): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = connectTcp(port, '127.0.0.1')
    const timer = setTimeout(() => {
      socket.destroy()
      reject(new Error(`the broker kept the connection open after ${bytes.toString('hex')}`))
    }, 2000)
    socket.on('error', () => {})
    socket.on('data', () => {})
    socket.on('close', () => {
      clearTimeout(timer)
      resolve()
    })
    socket.write(bytes)
    if (endAfter) socket.end()
  })
}
