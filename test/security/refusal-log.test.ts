import { describe, expect, it } from 'vitest'
import { WARNINGS_PER_SECOND } from '../../src/broker/refusal-log.js'
import type { LogLine } from '../helpers/app.js'
import { connectPacket, openSocket, whenClosed } from '../helpers/sockets.js'
import { useApp } from '../helpers/use-app.js'
import { waitUntil, within } from '../helpers/wait.js'

// A refused CONNECT costs its sender a round trip. With a client id and a
// username of 65,000 characters each, a loop of them used to write 130 KB of
// log a time: the log now keeps 64 characters of each, and at most ten such
// warnings a second plus one line that says how many more there were.

const f = useApp()
const LONG = 65_000
const AUTH = "auth:\n  users: [ { username: alice, password: 'scrypt$16384$8$1$c2FsdA$aGFzaA' } ]\n"

/**
 * Sends `n` CONNECTs built by `packet`, 20 at a time, each on its own
 * connection, and waits until the broker closed each; resolves with the
 * seconds it took, begun or not (what the log may hold depends on it).
 */
async function refuseMany(n: number, packet: (i: number) => Buffer): Promise<number> {
  const started = performance.now()
  let next = 0
  const worker = async () => {
    while (next < n) {
      const i = next++
      const socket = await openSocket(f.app.addresses.mqtt.port)
      socket.write(packet(i))
      await within(whenClosed(socket), 5000, 'the broker to close a refused connection')
    }
  }
  await Promise.all(Array.from({ length: 20 }, worker))
  return Math.ceil((performance.now() - started) / 1000)
}

const bytes = (line: LogLine) => JSON.stringify(line).length
const warnings = (logs: LogLine[]) => logs.filter((l) => l.level === 40)
const suppressed = (logs: LogLine[]) => logs.reduce((sum, l) => sum + (typeof l.suppressed === 'number' ? l.suppressed : 0), 0)
/** What the log may hold for refusals spread over `seconds`: the warnings of each second begun, and the summary after it. */
const allowed = (seconds: number) => (WARNINGS_PER_SECOND + 1) * (seconds + 1)

describe('refused CONNECTs in the log', () => {
  it('keep 64 characters of a 65,000-character client id and username, and at most ten warnings a second; the metric counts every one', async () => {
    // maxConnectSize raised so that the CONNECTs reach authentication. No
    // password: refused without a hash, so the login throttle never steps in.
    const t = await f.start(`${AUTH}limits:\n  maxConnectSize: 256KB\n`, { captureLogs: true })
    const n = 100
    const seconds = await refuseMany(n, (i) => connectPacket({ clientId: `${i}-${'c'.repeat(LONG)}`, username: 'u'.repeat(LONG) }))
    expect(await f.metric('switchyard_connections_refused_total{reason="credentials"}')).toBe(n)
    // Once the last second is over, a line tells how many were held back.
    const refused = () => t.logs.filter((l) => l.msg === 'connection refused')
    await waitUntil(() => refused().length + suppressed(t.logs) === n, { what: 'every refusal to be logged or counted as suppressed' })
    expect(warnings(t.logs).length).toBeLessThanOrEqual(allowed(seconds))
    const first = refused()[0]!
    expect(first.clientId).toMatch(/^0-c{62}\.\.\. \(65002 characters\)$/)
    expect(first.username).toBe(`${'u'.repeat(64)}... (65000 characters)`)
    // Each such line used to be 130 KB.
    expect(Math.max(...t.logs.map(bytes))).toBeLessThan(1024)
  })

  it('keep client ids with wildcards short too', async () => {
    const t = await f.start('', { captureLogs: true })
    const seconds = await refuseMany(30, (i) => connectPacket({ clientId: `#${i}-${'c'.repeat(LONG)}` }))
    const lines = t.logs.filter((l) => l.msg === 'client id holds + or #; connection refused')
    expect(lines.length).toBeGreaterThan(0)
    expect(lines.length).toBeLessThanOrEqual(allowed(seconds))
    expect(Math.max(...t.logs.map(bytes))).toBeLessThan(1024)
  })

  it('keep client ids short when the ACL refuses them to a user', async () => {
    const acl = "acl:\n  - { allow: connect, clientIds: ['device-*'] }\n  - { deny: connect, clientIds: ['*'] }\n  - { allow: all, topics: ['#'] }\n"
    const t = await f.start(`${acl}limits:\n  maxConnectSize: 256KB\n`, { captureLogs: true })
    const seconds = await refuseMany(30, (i) => connectPacket({ clientId: `${i}-${'c'.repeat(LONG)}`, username: 'u'.repeat(LONG) }))
    expect(await f.metric('switchyard_connections_refused_total{reason="client_id"}')).toBe(30)
    const lines = t.logs.filter((l) => l.msg === 'connection refused')
    expect(lines.length).toBeGreaterThan(0)
    expect(lines.length).toBeLessThanOrEqual(allowed(seconds))
    expect(lines[0]!.username).toBe(`${'u'.repeat(64)}... (65000 characters)`)
    expect(Math.max(...t.logs.map(bytes))).toBeLessThan(1024)
  })

  it('keep client ids short when a persistent session is refused past limits.sessions.maxPerUser', async () => {
    const t = await f.start('limits:\n  maxConnectSize: 256KB\n  sessions: { maxPerUser: 1 }\n', { captureLogs: true })
    // The address' one persistent session, kept after its connection ends.
    const first = await openSocket(t.addresses.mqtt.port)
    f.defer(() => first.destroy())
    first.write(connectPacket({ clientId: 'kept', clean: false }))
    await within(new Promise((resolve) => first.once('data', resolve)), 5000, 'the CONNACK of the first persistent session')
    await refuseMany(5, (i) => connectPacket({ clientId: `${i}-${'c'.repeat(LONG)}`, clean: false }))
    expect(await f.metric('switchyard_limit_exceeded_total{limit="sessions_per_user"}')).toBe(5)
    const line = t.logs.find((l) => l.limit === 'sessions_per_user')!
    expect(line.clientId).toMatch(/^0-c{62}\.\.\. \(65002 characters\)$/)
    expect(Math.max(...t.logs.map(bytes))).toBeLessThan(1024)
  })

  it('share the allowance with the refusals of a zero-length client id asking for a persistent session', async () => {
    const t = await f.start('', { captureLogs: true })
    const n = 100
    // By hand: mqtt-packet will not write it. Protocol level 4, flags 0 (CleanSession=0), keep-alive 60, client id of length 0.
    const connect = Buffer.from([0x10, 12, 0, 4, 0x4d, 0x51, 0x54, 0x54, 4, 0x00, 0, 60, 0, 0])
    const seconds = await refuseMany(n, () => connect)
    expect(await f.metric('switchyard_connections_refused_total{reason="client_id"}')).toBe(n)
    const lines = () => t.logs.filter((l) => l.msg === 'zero-length client id with CleanSession=0; connection refused')
    await waitUntil(() => lines().length + suppressed(t.logs) === n, { what: 'every refusal to be logged or counted as suppressed' })
    expect(lines().length).toBeLessThanOrEqual(allowed(seconds))
  })

  it('stay small when the CONNECTs are refused for their size instead, with every breach counted', async () => {
    const t = await f.start(AUTH, { captureLogs: true })
    const n = 100
    const seconds = await refuseMany(n, () => connectPacket({ clientId: 'c'.repeat(LONG), username: 'u'.repeat(LONG), password: Buffer.from('x') }))
    expect(await f.metric('switchyard_limit_exceeded_total{limit="connect_size"}')).toBe(n)
    const breaches = () => t.logs.filter((l) => l.limit === 'connect_size')
    await waitUntil(() => breaches().length + suppressed(t.logs) === n, { what: 'every breach to be logged or counted as suppressed' })
    expect(warnings(t.logs).length).toBeLessThanOrEqual(allowed(seconds))
    expect(Math.max(...t.logs.map(bytes))).toBeLessThan(1024)
  })
})
