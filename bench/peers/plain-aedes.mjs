// Plain Aedes 1.2 with its default in-memory persistence: the baseline that
// Switchyard is measured against. Same socket settings as Switchyard's
// listeners (no Nagle delay; WebSocket at /mqtt without compression).
// Usage: node bench/peers/plain-aedes.mjs <mqtt port> [<websocket port>]
import { createServer as createHttpServer } from 'node:http'
import { createServer } from 'node:net'
import { Aedes } from 'aedes'
import { createWebSocketStream, WebSocketServer } from 'ws'

const [mqttPort, wsPort] = process.argv.slice(2).map(Number)
const broker = await Aedes.createBroker()

const tcp = createServer((socket) => {
  socket.setNoDelay(true)
  broker.handle(socket)
})
tcp.listen(mqttPort, '127.0.0.1')

if (wsPort) {
  const http = createHttpServer()
  const wss = new WebSocketServer({
    server: http,
    perMessageDeflate: false,
    handleProtocols: (protocols) => (protocols.has('mqtt') ? 'mqtt' : false),
  })
  wss.on('connection', (ws, req) => {
    const stream = createWebSocketStream(ws)
    stream.on('error', () => {})
    broker.handle(stream, req)
  })
  http.listen(wsPort, '127.0.0.1')
}

const stop = () => {
  tcp.close()
  broker.close(() => process.exit(0))
}
process.once('SIGTERM', stop)
process.once('SIGINT', stop)
