import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { beforeEach, describe, expect, it } from 'vitest'
import type { TestApp } from './helpers/app.js'
import { Inbox } from './helpers/mqtt.js'
import { requireCommand } from './helpers/require-command.js'
import { useApp } from './helpers/use-app.js'

const f = useApp()
let t: TestApp
beforeEach(async () => {
  t = await f.start()
})

/** Runs a client without blocking this process, which is also the broker's. */
async function run(cmd: string, args: string[]): Promise<{ code: number | null; out: string; err: string }> {
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], timeout: 15_000 })
  let out = ''
  let err = ''
  child.stdout.on('data', (d: Buffer) => (out += d.toString()))
  child.stderr.on('data', (d: Buffer) => (err += d.toString()))
  const [code] = (await once(child, 'exit')) as [number | null]
  return { code, out, err }
}

describe("Debian's mosquitto clients", () => {
  it('mosquitto_sub receives what MQTT.js publishes, and mosquitto_pub reaches MQTT.js', async () => {
    const sub = requireCommand('mosquitto_sub', 'mosquitto-clients')
    const pub = requireCommand('mosquitto_pub', 'mosquitto-clients')
    const port = String(t.addresses.mqtt.port)

    const js = await f.connect(t.wsUrl)
    const watcher = new Inbox(js)
    await js.subscribeAsync('$events/subscriptions/subscribed/mosq-sub', { qos: 1 })

    // mosquitto_sub exits after 3 messages (-C 3); -v prints "topic payload".
    const reading = run(sub, ['-h', '127.0.0.1', '-p', port, '-t', 'mosq/#', '-q', '1', '-C', '3', '-v', '-i', 'mosq-sub'])
    await watcher.count(1, 10_000)
    for (const qos of [0, 1, 2] as const) await js.publishAsync(`mosq/q${qos}`, `hello ${qos}`, { qos })
    const { code, out, err } = await reading
    expect(code, err).toBe(0)
    expect(out.trim().split('\n')).toEqual(['mosq/q0 hello 0', 'mosq/q1 hello 1', 'mosq/q2 hello 2'])

    const inbox = new Inbox(js)
    await js.subscribeAsync('from/mosquitto', { qos: 2 })
    const sent = await run(pub, ['-h', '127.0.0.1', '-p', port, '-t', 'from/mosquitto', '-m', 'hi from mosquitto_pub', '-q', '2'])
    expect(sent.code, sent.err).toBe(0)
    const got = await inbox.on('from/mosquitto')
    expect([got.payload, got.packet.qos]).toEqual(['hi from mosquitto_pub', 2])
  })

  it('retained messages set by mosquitto_pub -r are read back by mosquitto_sub', async () => {
    const sub = requireCommand('mosquitto_sub', 'mosquitto-clients')
    const pub = requireCommand('mosquitto_pub', 'mosquitto-clients')
    const port = String(t.addresses.mqtt.port)
    expect((await run(pub, ['-h', '127.0.0.1', '-p', port, '-t', 'site/name', '-m', 'plant 7', '-r', '-q', '1'])).code).toBe(0)
    const read = await run(sub, ['-h', '127.0.0.1', '-p', port, '-t', 'site/#', '-C', '1', '-v', '-W', '5'])
    expect(read.code, read.err).toBe(0)
    expect(read.out.trim()).toBe('site/name plant 7')
  })
})
