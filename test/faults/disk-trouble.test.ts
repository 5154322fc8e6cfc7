import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { chmodSync, mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { isDeepStrictEqual } from 'node:util'
import { describe, expect, it } from 'vitest'
import type { TestApp } from '../helpers/app.js'
import { metric } from '../helpers/metrics.js'
import { end, Inbox } from '../helpers/mqtt.js'
import { useApp } from '../helpers/use-app.js'
import { waitUntil } from '../helpers/wait.js'

// The SQLite file stops taking writes while the broker runs: the disk fills
// (SQLite's max_page_count caps the file, and writes that need one more
// page fail with the real SQLITE_FULL), or the file cannot be written when
// the broker starts. Wanted: one clear error in the log, a metric, the
// broker serving whatever needs no write, and everything back once the
// database can be written again.

const TOKEN = 'test-admin-token-0123456789'
const BIN = fileURLToPath(new URL('../../bin/switchyard.js', import.meta.url))

const f = useApp({ adminToken: TOKEN })

/** The real app in this process, logging at info level into `logs`. */
const startLogged = (extraYaml: string) => f.start(extraYaml, { captureLogs: true })

/** The topics of the events stored in `table`, newest first. */
async function stored(table: string): Promise<string[]> {
  return ((await f.api(`/store/${table}`)) as { events: Array<{ topic: string }> }).events.map((e) => e.topic)
}

/** Two clean sessions, one on TCP and one on WebSocket, trading QoS 0 and QoS 1 messages. */
async function cleanSessionsTalk(app: TestApp, round: string): Promise<void> {
  const { client: ws, inbox } = await f.connectWithInbox(app.wsUrl, { clientId: `ws-${round}` })
  await ws.subscribeAsync('live/#', { qos: 1 })
  const tcp = await f.connect(app.mqttUrl, { clientId: `tcp-${round}` })
  await tcp.publishAsync(`live/${round}/0`, 'at QoS 0', { qos: 0 })
  await tcp.publishAsync(`live/${round}/1`, 'at QoS 1', { qos: 1 })
  const got = await inbox.count(2, 5000)
  expect(got.map((m) => [m.topic, m.payload])).toEqual([[`live/${round}/0`, 'at QoS 0'], [`live/${round}/1`, 'at QoS 1']])
}

describe('a full disk', () => {
  it('does not acknowledge a QoS 1 message it cannot keep for a persistent session; the retry after space returns gets through', async () => {
    const app = await startLogged('rules:\n  - name: keep\n    sql: SELECT * FROM \'fill/#\'\n    actions:\n      - store: { table: fill }\n')
    const keeper = await f.connect(app.mqttUrl, { clientId: 'keeper', clean: false })
    await keeper.subscribeAsync('orders/#', { qos: 1 })
    await end(keeper)
    const filler = await f.connect(app.mqttUrl, { clientId: 'filler' })
    const db = app.app.db
    db.pragma(`max_page_count = ${db.pragma('page_count', { simple: true }) as number}`)
    for (let sent = 0; (await metric(app.httpUrl, 'switchyard_store_writable')) === 1; sent++) {
      expect(sent, 'the database never filled up').toBeLessThan(500)
      await filler.publishAsync(`fill/${sent}`, 'x'.repeat(2000), { qos: 0 })
    }
    // The message must be queued for the offline session, and cannot be (it needs
    // pages the file may not grow by): no PUBACK, the connection closes.
    const order = `order 1 ${'x'.repeat(8000)}`
    const publisher = await f.connect(app.mqttUrl, { clientId: 'orders' })
    const closed = new Promise<void>((resolve) => publisher.once('close', () => resolve()))
    let acked = false
    publisher.publish('orders/1', order, { qos: 1 }, (err) => {
      if (!err) acked = true
    })
    await closed
    expect(acked).toBe(false)
    // Space returns; the publisher sends it again, as MQTT clients do after a reconnect.
    db.pragma('max_page_count = 1073741823')
    const again = await f.connect(app.mqttUrl, { clientId: 'orders' })
    await again.publishAsync('orders/1', order, { qos: 1 })
    const { inbox } = await f.connectWithInbox(app.mqttUrl, { clientId: 'keeper', clean: false })
    expect((await inbox.on('orders/1', 5000)).payload).toBe(order)
  })

  it('logs one clear error, counts the failed writes, keeps serving, and recovers when space returns', async () => {
    const app = await startLogged(`rules:
  - name: keep
    sql: SELECT * FROM 'data/#'
    actions:
      - store: { table: readings }
`)
    // A persistent session, offline, that the broker owes every data/# message at QoS 1.
    const keeper = await f.connect(app.mqttUrl, { clientId: 'keeper', clean: false })
    await keeper.subscribeAsync('data/#', { qos: 1 })
    await end(keeper)
    const publisher = await f.connect(app.mqttUrl, { clientId: 'sensor' })
    await publisher.publishAsync('data/before', JSON.stringify({ v: 0 }), { qos: 1 })
    await waitUntil(() => stored('readings'), { until: (topics) => isDeepStrictEqual(topics, ['data/before']), what: 'data/before stored' })
    expect(await metric(app.httpUrl, 'switchyard_store_writable')).toBe(1)

    // The file may grow no more; readings keep coming (QoS 0) until a write needs a page.
    const db = app.app.db
    db.pragma(`max_page_count = ${db.pragma('page_count', { simple: true }) as number}`)
    let sent = 0
    while ((await metric(app.httpUrl, 'switchyard_store_writable')) === 1) {
      expect(sent, 'the database never filled up').toBeLessThan(500)
      await publisher.publishAsync(`data/fill/${sent++}`, JSON.stringify({ v: sent, pad: 'x'.repeat(2000) }), { qos: 0 })
    }
    // Some more, to show that the error is logged once, not once per write.
    for (let i = 0; i < 20; i++) await publisher.publishAsync(`data/fill/more/${i}`, JSON.stringify({ v: i, pad: 'x'.repeat(2000) }), { qos: 0 })
    await waitUntil(() => metric(app.httpUrl, 'switchyard_store_write_errors_total{code="SQLITE_FULL"}'), { until: (n) => n !== undefined && n > 10, what: 'over 10 failed writes counted' })
    const errors = app.logs.filter((l) => l.level === 50 && l.msg.startsWith('the database cannot be written'))
    expect(errors).toHaveLength(1)
    expect(errors[0]).toMatchObject({ code: 'SQLITE_FULL', err: 'database or disk is full' })
    expect(errors[0]!.msg).toContain('the disk or the database is full')
    expect(await metric(app.httpUrl, 'switchyard_store_writable')).toBe(0)

    // What needs no write goes on: health, new clean sessions on both transports, QoS 0 and 1 between them.
    expect((await fetch(`${app.httpUrl}/healthz`)).status).toBe(200)
    await cleanSessionsTalk(app, 'full')
    expect(publisher.connected).toBe(true)

    // Space returns: the next writes succeed, and say so.
    db.pragma('max_page_count = 1073741823')
    const after = await f.connect(app.mqttUrl, { clientId: 'sensor-2' })
    await after.publishAsync('data/after', JSON.stringify({ v: 'after' }), { qos: 1 })
    await waitUntil(() => stored('readings').then((topics) => topics[0]), { until: (topic) => topic === 'data/after', what: 'data/after stored' })
    expect(await metric(app.httpUrl, 'switchyard_store_writable')).toBe(1)
    expect(app.logs.filter((l) => l.msg === 'the database can be written again')).toHaveLength(1)
    await after.publishAsync('status/sensor-2', 'online', { qos: 1, retain: true })
    // The persistent session is whole: it gets what was published once the disk had room.
    const { inbox } = await f.connectWithInbox(app.mqttUrl, { clientId: 'keeper', clean: false })
    expect((await inbox.on('data/after', 5000)).payload).toBe(JSON.stringify({ v: 'after' }))
    const late = await f.connect(app.mqttUrl)
    const lateInbox = new Inbox(late)
    await late.subscribeAsync('status/#')
    expect((await lateInbox.on('status/sensor-2', 5000)).payload).toBe('online')
    await cleanSessionsTalk(app, 'recovered')
  })
})

/**
 * Runs `switchyard start` on `config`, as an unprivileged user when the tests
 * run as root (for root, file permissions stop no write). Resolves with its
 * exit code and output once it exits, or with `started` once it says so.
 */
function startUnprivileged(config: string): { exited: Promise<{ code: number | null; stderr: string }>; started: Promise<{ logs: Array<Record<string, unknown>>; mqttPort: number; httpPort: number }>; stop(): void } {
  const asRoot = process.getuid?.() === 0
  const child = spawn(process.execPath, [BIN, 'start', '--config', config], { stdio: ['ignore', 'pipe', 'pipe'], ...(asRoot ? { uid: 65534, gid: 65534 } : {}) })
  let stderr = ''
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
  const exited = once(child, 'exit').then(([code]) => ({ code: code as number | null, stderr }))
  const logs: Array<Record<string, unknown>> = []
  const started = new Promise<{ logs: typeof logs; mqttPort: number; httpPort: number }>((resolve, reject) => {
    createInterface({ input: child.stdout }).on('line', (line) => {
      const entry = JSON.parse(line) as Record<string, unknown>
      logs.push(entry)
      if (entry.msg === 'Switchyard started') resolve({ logs, mqttPort: (entry.mqtt as { port: number }).port, httpPort: (entry.http as { port: number }).port })
    })
    void exited.then(({ code }) => reject(new Error(`exited with ${code} before it started: ${stderr}`)))
  })
  started.catch(() => {})
  const stop = () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM')
  }
  f.defer(() => child.kill('SIGKILL'))
  return { exited, started, stop }
}

/** A config in a fresh folder whose database lives in ./data, and that folder. */
function brokerFolder(): { config: string; data: string; lockDown(): void } {
  const dir = f.tempDir()
  chmodSync(dir, 0o755)
  const config = f.writeConfig('listen:\n  mqtt: 0\n  http: 0\nstorage:\n  sqlite: ./data/switchyard.db\n', dir)
  const data = join(dir, 'data')
  mkdirSync(data)
  // Writable again before the folder is removed.
  f.defer(() => chmodSync(data, 0o755))
  return {
    config,
    data,
    // The database, its WAL and the folder become read-only.
    lockDown() {
      for (const name of ['switchyard.db', 'switchyard.db-wal', 'switchyard.db-shm']) {
        try {
          chmodSync(join(data, name), 0o444)
        } catch {
          // Not every file exists after every kind of stop.
        }
      }
      chmodSync(data, 0o555)
    },
  }
}

describe('a database that cannot be written at start', () => {
  it('is refused in one sentence when it cannot even be opened', async () => {
    const folder = brokerFolder()
    const first = await f.startChild(folder.config)
    expect((await first.kill('SIGTERM')).code).toBe(0)
    folder.lockDown()

    const { code, stderr } = await startUnprivileged(folder.config).exited
    expect(code).toBe(1)
    expect(stderr).toContain(`switchyard: cannot open the database ${join(folder.data, 'switchyard.db')}: it is read-only, and Switchyard must write it (check the permissions of the file and of its folder)\n`)
    expect(stderr).not.toMatch(/^\s+at /m)
  })

  it('starts, says so, serves clean sessions, and stops cleanly when it can be read but not written', async () => {
    // A broker killed outright leaves its WAL behind: the database can then be read without a write.
    const folder = brokerFolder()
    const first = await f.startChild(folder.config)
    const c = await f.connect(first.mqttUrl, { clientId: 'first', clean: false })
    await c.subscribeAsync('x/#', { qos: 1 })
    await end(c)
    await first.kill('SIGKILL')
    folder.lockDown()

    const broker = startUnprivileged(folder.config)
    const { logs, mqttPort, httpPort } = await broker.started
    const error = logs.find((l) => l.level === 50)
    expect(error).toMatchObject({ code: 'SQLITE_READONLY', msg: expect.stringMatching(/^the database cannot be written: the database is read-only/) })
    expect(await metric(`http://127.0.0.1:${httpPort}`, 'switchyard_store_writable')).toBe(0)
    const { client: sub, inbox } = await f.connectWithInbox(`mqtt://127.0.0.1:${mqttPort}`, { clientId: 'reader' })
    await sub.subscribeAsync('live/#')
    const pub = await f.connect(`mqtt://127.0.0.1:${mqttPort}`, { clientId: 'writer' })
    await pub.publishAsync('live/1', 'still served')
    expect((await inbox.on('live/1', 5000)).payload).toBe('still served')

    broker.stop()
    const { code, stderr } = await broker.exited
    expect(stderr).not.toMatch(/Error|^\s+at /m)
    expect(code).toBe(0)
  })
})
