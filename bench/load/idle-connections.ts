import { connect as connectTcp, type Socket } from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'
import { generate } from 'mqtt-packet'
import { WebSocket } from 'ws'
import { rssKb } from '../lib/proc-stats.js'
import type { IdleJob, IdleResult } from './job.js'
import { runPubSub } from './pubsub-load.js'

const HANDSHAKE_TIMEOUT_MS = 10_000
/** How long a full collection of a broker's heap is given before RSS is read (one of 200 MB takes well under a second). */
const GC_WAIT_MS = 1000

/** One open connection, however it is carried. */
export interface Opened {
  close(): void
}

/** Opens one connection: resolves once its CONNACK accepted it, or with why not. */
export type Opener = (clientId: string) => Promise<Opened | string>

const connectPacket = (clientId: string) => generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clientId, clean: true, keepalive: 0 })

/**
 * Reads the answer to CONNECT from chunks as they come: a broker may write
 * CONNACK in several writes (Aedes does), so over WebSocket in several frames.
 * Undefined until 4 bytes are in, then '' for a successful CONNACK or why not.
 */
function connackReader(): (chunk: Buffer) => string | undefined {
  let answer = Buffer.alloc(0)
  return (chunk) => {
    answer = Buffer.concat([answer, chunk])
    if (answer.length < 4) return undefined
    // CONNACK: 0x20, length 2, flags, return code.
    return answer[0] === 0x20 && answer[3] === 0 ? '' : `unexpected answer to CONNECT: ${answer.subarray(0, 4).toString('hex')}`
  }
}

/** MQTT over WebSocket, subprotocol `mqtt`, as a browser would connect. */
export function webSocketOpener(url: string): Opener {
  return (clientId) => new Promise((resolve) => {
    const ws = new WebSocket(url, 'mqtt', { perMessageDeflate: false, handshakeTimeout: HANDSHAKE_TIMEOUT_MS })
    const fail = (reason: string) => {
      clearTimeout(timer)
      ws.terminate()
      resolve(reason)
    }
    const timer = setTimeout(() => fail('no CONNACK in time'), HANDSHAKE_TIMEOUT_MS)
    ws.once('open', () => ws.send(connectPacket(clientId)))
    const read = connackReader()
    const onMessage = (data: Buffer) => {
      const answer = read(data)
      if (answer === undefined) return
      ws.off('message', onMessage)
      if (answer) return fail(answer)
      clearTimeout(timer)
      resolve({ close: () => ws.terminate() })
    }
    ws.on('message', onMessage)
    ws.once('error', (err) => fail(err.message))
  })
}

/** MQTT over TCP on 127.0.0.1. */
export function tcpOpener(port: number): Opener {
  return (clientId) => new Promise((resolve) => {
    const socket: Socket = connectTcp({ host: '127.0.0.1', port, noDelay: true })
    const fail = (reason: string) => {
      clearTimeout(timer)
      socket.destroy()
      resolve(reason)
    }
    const timer = setTimeout(() => fail('no CONNACK in time'), HANDSHAKE_TIMEOUT_MS)
    socket.once('connect', () => socket.write(connectPacket(clientId)))
    const read = connackReader()
    const onData = (chunk: Buffer) => {
      const answer = read(chunk)
      if (answer === undefined) return
      socket.off('data', onData)
      if (answer) return fail(answer)
      clearTimeout(timer)
      // Nothing more is read: the broker has nothing to say to an idle client.
      socket.pause()
      resolve({ close: () => socket.destroy() })
    }
    socket.on('data', onData)
    socket.once('error', (err) => fail(err.message))
  })
}

/**
 * Opens many MQTT connections that then stay idle (keepalive 0, so not even
 * PINGREQs), and reads the broker's RSS before and after: what one idle
 * connection costs the broker in memory. With a preload, the broker first
 * carries that load, whose clients are gone before the first reading; with
 * a GC signal, each reading follows a full collection in the broker.
 */
export async function runIdleConnections(job: IdleJob): Promise<IdleResult> {
  const open = job.transport === 'ws' ? webSocketOpener(job.url!) : tcpOpener(job.port!)
  // After the quiet time; with a GC signal, after the broker's collection too.
  const reading = async () => {
    await sleep(job.settleMs)
    if (job.gcSignal) {
      process.kill(job.brokerPid, job.gcSignal)
      await sleep(GC_WAIT_MS)
    }
    return rssKb(job.brokerPid)
  }
  let preload: IdleResult['preload']
  if (job.preload) {
    const rssBeforeKb = await reading()
    const load = await runPubSub(job.preload)
    preload = { rssBeforeKb, rssAfterKb: 0, delivered: load.received, lost: load.lost }
  }
  const rssStartKb = await reading()
  if (preload) preload.rssAfterKb = rssStartKb
  const connections: Opened[] = []
  let opened = 0
  let failed = 0
  let firstError: string | undefined
  let nextIndex = 0

  const openOne = async (index: number) => {
    const result = await open(`bench-idle-${index}`)
    if (typeof result === 'string') {
      failed++
      firstError ??= result
      return
    }
    connections.push(result)
    opened++
  }

  // A bounded number of handshakes at once, so neither side's accept queue overflows.
  const openUpTo = async (until: number) => {
    const worker = async () => {
      while (nextIndex < until) await openOne(nextIndex++)
    }
    await Promise.all(Array.from({ length: Math.min(job.concurrency, until - nextIndex) }, worker))
  }

  // The first connections pay for what a broker sets up once (caches, the
  // heap's young generation growing to its working size): they stay open
  // and are not counted, so the figure is what each further connection costs.
  let rssBeforeKb = rssStartKb
  let warmedUp = 0
  if (job.warmup > 0) {
    await openUpTo(job.warmup)
    warmedUp = opened
    rssBeforeKb = await reading()
  }
  const othersBeforeKb = (job.others ?? []).map((p) => rssKb(p.pid))
  await openUpTo(job.warmup + job.connections)
  opened -= warmedUp

  await sleep(job.settleMs)
  const uncollectedKb = rssKb(job.brokerPid)
  const rssAfterKb = job.gcSignal ? await reading() : uncollectedKb
  const others = (job.others ?? []).map((p, i) => ({ name: p.name, kbPerConnection: opened > 0 ? (rssKb(p.pid) - othersBeforeKb[i]!) / opened : Number.NaN }))
  for (const c of connections) c.close()
  return {
    kind: 'idle',
    opened,
    failed,
    firstError,
    rssBeforeKb,
    rssAfterKb,
    kbPerConnection: opened > 0 ? (rssAfterKb - rssBeforeKb) / opened : Number.NaN,
    kbPerConnectionFromStart: opened + warmedUp > 0 ? (rssAfterKb - rssStartKb) / (opened + warmedUp) : Number.NaN,
    ...(job.gcSignal ? { kbPerConnectionUncollected: opened > 0 ? (uncollectedKb - rssBeforeKb) / opened : Number.NaN } : {}),
    ...(job.others ? { others } : {}),
    ...(preload ? { preload } : {}),
  }
}
