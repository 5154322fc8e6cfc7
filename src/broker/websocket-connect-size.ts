import type { Socket } from 'node:net'
import type { Admission, Ticket } from './admission.js'
import type { Limits } from './limits.js'

/**
 * What a WebSocket connection may send around its CONNECT besides the
 * packet itself: the frame headers of a masked client frame are 6 to 14
 * bytes [RFC 6455 5.2], so a CONNECT split over some seventy frames.
 */
const FRAMING_ALLOWANCE = 1024

/**
 * Holds a WebSocket connection to `limits.maxConnectSize` until its CONNECT
 * is read. ws reads a whole frame before it hands it on, up to its
 * maxPayload, which must let the largest packet through: a client could
 * announce a frame of `maxPacketSize` bytes and keep the broker holding what
 * it sends of it until `connectTimeout`, and the parser's own check on the
 * CONNECT's announced length would come only once the frame was complete.
 * So the bytes that arrive on the socket are counted while the connection
 * is pending, and once they pass the ceiling it is closed.
 *
 * The count is looked at once the turn that read them is over: a CONNECT in
 * a complete frame has by then been parsed (ws hands frames on as it reads
 * them; Aedes parses on the next tick), so a client that sends packets right
 * behind its CONNECT is not mistaken for one with a large CONNECT.
 */
export function limitBytesBeforeConnect(socket: Socket, ticket: Ticket, admission: Admission, limits: Limits): void {
  let received = 0
  let due = false
  const check = () => {
    due = false
    if (!admission.isPending(ticket)) return socket.off('data', count)
    const { maxConnectSize, maxPacketSize } = limits.config
    const max = Math.min(maxConnectSize, maxPacketSize) + FRAMING_ALLOWANCE
    if (received <= max) return
    socket.off('data', count)
    limits.exceeded('connect_size', `WebSocket connection sent ${received} bytes without a complete CONNECT, more than the limit of ${maxConnectSize} (limits.maxConnectSize); closing the connection`, { remoteAddress: ticket.address })
    socket.destroy()
  }
  const count = (chunk: Buffer) => {
    received += chunk.length
    if (due) return
    due = true
    setImmediate(check)
  }
  socket.on('data', count)
}
