import type { Socket } from 'node:net'
import { describe, expect, it } from 'vitest'
import { fixturePath } from '../helpers/fixtures.js'
import { allClosed, connectFrom, openSocket, upgradeFrom } from '../helpers/sockets.js'
import { useApp } from '../helpers/use-app.js'

// One address may not take every connection, and sockets that never say
// CONNECT may take only a small share of them: these are the ways to fill a
// broker without a password. 127.0.0.2 and up stand for other machines.

const f = useApp()
const exceeded = async (limit: string) => (await f.metric(`switchyard_limit_exceeded_total{limit="${limit}"}`)) ?? 0

/** `n` idle sockets to `port`, opened one after another (so accepted in that order), from `from(i)`; destroyed after the test. */
async function idleSockets(n: number, port: number, from: (i: number) => string): Promise<Socket[]> {
  const sockets: Socket[] = []
  for (let i = 0; i < n; i++) {
    const s = await openSocket(port, from(i))
    f.defer(() => s.destroy())
    sockets.push(s)
  }
  return sockets
}

describe('limits.maxConnectionsPerAddress', () => {
  it('refuses a fourth connection from one address on TCP (closed) and WebSocket (429), and takes one from another address', async () => {
    const t = await f.start('limits:\n  maxConnectionsPerAddress: 3\n')
    for (let i = 0; i < 3; i++) await f.connect()
    await allClosed(await idleSockets(1, t.addresses.mqtt.port, () => '127.0.0.1'), 2000, 'a fourth TCP connection from 127.0.0.1 to be closed')
    expect((await upgradeFrom(t.addresses.http.port)).status).toBe(429)
    expect(await exceeded('connections_per_address')).toBe(2)
    expect(await connectFrom(t.addresses.mqtt.port, '127.0.0.2', 'elsewhere')).toBe(0)
  })
})

describe('connections that have not sent CONNECT', () => {
  it('from one address, past maxPendingConnectionsPerAddress, are closed at once: they cannot take the slots of maxConnections', async () => {
    const t = await f.start('limits:\n  maxConnections: 20\n  maxPendingConnections: 10\n  maxPendingConnectionsPerAddress: 5\n')
    const sockets = await idleSockets(20, t.addresses.mqtt.port, () => '127.0.0.2')
    await allClosed(sockets.slice(5), 2000, 'the idle sockets past the fifth from 127.0.0.2 to be closed')
    expect(await exceeded('pending_connections_per_address')).toBe(15)
    // Over WebSocket, the same budget.
    expect((await upgradeFrom(t.addresses.http.port, '127.0.0.2')).status).toBe(429)
    // Someone else gets in.
    const c = await f.connect()
    expect(c.connected).toBe(true)
  })

  it('from many addresses, past maxPendingConnections, make room by closing the one that waited longest: a client still gets in', async () => {
    const t = await f.start('limits:\n  maxConnections: 10\n  maxPendingConnections: 5\n')
    // One idle socket from each of ten addresses: no per-address budget is touched.
    const sockets = await idleSockets(10, t.addresses.mqtt.port, (i) => `127.0.0.${i + 2}`)
    await allClosed(sockets.slice(0, 5), 2000, 'the five oldest idle sockets to be closed to make room')
    expect(await exceeded('pending_connections')).toBe(5)
    const c = await f.connect()
    expect(c.connected).toBe(true)
    expect(await exceeded('pending_connections')).toBe(6)
  })

  it('are closed after connectTimeout on TCP, on TLS before the handshake, and on WebSocket after the upgrade', async () => {
    const TLS = `tls:\n  cert: ${fixturePath('tls/server.crt')}\n  key: ${fixturePath('tls/server.key')}\n`
    const t = await f.start(`${TLS}limits:\n  connectTimeout: 1s\n`, { listenYaml: 'listen:\n  mqtt: 0\n  http: 0\n  mqtts: 0\n' })
    const started = performance.now()
    const tcp = await openSocket(t.addresses.mqtt.port)
    const tls = await openSocket(t.addresses.mqtts!.port)
    const ws = await upgradeFrom(t.addresses.http.port)
    expect(ws.status).toBe(101)
    for (const s of [tcp, tls, ws.socket]) f.defer(() => s.destroy())
    // Aedes alone waited 30 s for a CONNECT, and Node 120 s for a TLS handshake.
    await allClosed([tcp, tls, ws.socket], 5000, 'three idle connections to be closed after connectTimeout')
    expect(performance.now() - started).toBeGreaterThanOrEqual(900)
    expect(await exceeded('connect_timeout')).toBe(3)
  })

  it('on TLS, count against their address before the handshake', async () => {
    const TLS = `tls:\n  cert: ${fixturePath('tls/server.crt')}\n  key: ${fixturePath('tls/server.key')}\n`
    const t = await f.start(`${TLS}limits:\n  maxPendingConnectionsPerAddress: 2\n`, { listenYaml: 'listen:\n  mqtt: 0\n  http: 0\n  mqtts: 0\n' })
    const sockets = await idleSockets(3, t.addresses.mqtts!.port, () => '127.0.0.2')
    await allClosed(sockets.slice(2), 2000, 'the third socket from 127.0.0.2 that never starts a TLS handshake to be closed')
    expect(await exceeded('pending_connections_per_address')).toBe(1)
  })

  it('refuses a maxPendingConnections that is not below maxConnections, naming the file, line and column', async () => {
    await expect(f.start('limits:\n  maxConnections: 100\n  maxPendingConnections: 100\n')).rejects.toThrow(/switchyard\.yaml:\d+:\d+: limits\.maxPendingConnections must be smaller than maxConnections \(100\)/)
  })
})
