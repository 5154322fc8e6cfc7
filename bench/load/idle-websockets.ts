import { setTimeout as sleep } from 'node:timers/promises'
import { generate } from 'mqtt-packet'
import { WebSocket } from 'ws'
import { rssKb } from '../lib/proc-stats.js'
import type { IdleWebSocketJob, IdleWebSocketResult } from './job.js'

const HANDSHAKE_TIMEOUT_MS = 10_000

/**
 * Opens many MQTT-over-WebSocket connections that then stay idle (keepalive
 * 0, so not even PINGREQs), and reads the broker's RSS before and after:
 * what one idle connection costs the broker in memory.
 */
export async function runIdleWebSockets(job: IdleWebSocketJob): Promise<IdleWebSocketResult> {
  await sleep(job.settleMs)
  const rssStartKb = rssKb(job.brokerPid)
  const sockets: WebSocket[] = []
  let opened = 0
  let failed = 0
  let firstError: string | undefined
  let nextIndex = 0

  const openOne = (index: number) => new Promise<void>((resolve) => {
    const ws = new WebSocket(job.url, 'mqtt', { perMessageDeflate: false, handshakeTimeout: HANDSHAKE_TIMEOUT_MS })
    sockets.push(ws)
    const fail = (reason: string) => {
      clearTimeout(timer)
      failed++
      firstError ??= reason
      ws.terminate()
      resolve()
    }
    const timer = setTimeout(() => fail('no CONNACK in time'), HANDSHAKE_TIMEOUT_MS)
    ws.once('open', () => {
      ws.send(generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clientId: `bench-idle-${index}`, clean: true, keepalive: 0 }))
    })
    // Aedes writes a packet in several writes, so CONNACK may span several frames.
    let answer = Buffer.alloc(0)
    const onMessage = (data: Buffer) => {
      answer = Buffer.concat([answer, data])
      if (answer.length < 4) return
      ws.off('message', onMessage)
      // CONNACK: 0x20, length 2, flags, return code.
      if (answer[0] !== 0x20 || answer[3] !== 0) return fail(`unexpected answer to CONNECT: ${answer.subarray(0, 4).toString('hex')}`)
      clearTimeout(timer)
      opened++
      resolve()
    }
    ws.on('message', onMessage)
    ws.once('error', (err) => fail(err.message))
  })

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
  await openUpTo(job.warmup)
  const warmedUp = opened
  await sleep(job.settleMs)
  const rssBeforeKb = rssKb(job.brokerPid)
  const othersBeforeKb = (job.others ?? []).map((p) => rssKb(p.pid))
  await openUpTo(job.warmup + job.connections)
  opened -= warmedUp

  await sleep(job.settleMs)
  const rssAfterKb = rssKb(job.brokerPid)
  const others = (job.others ?? []).map((p, i) => ({ name: p.name, kbPerConnection: opened > 0 ? (rssKb(p.pid) - othersBeforeKb[i]!) / opened : Number.NaN }))
  for (const ws of sockets) ws.terminate()
  return {
    kind: 'idle-ws',
    opened,
    failed,
    firstError,
    rssBeforeKb,
    rssAfterKb,
    kbPerConnection: opened > 0 ? (rssAfterKb - rssBeforeKb) / opened : Number.NaN,
    kbPerConnectionFromStart: opened + warmedUp > 0 ? (rssAfterKb - rssStartKb) / (opened + warmedUp) : Number.NaN,
    ...(job.others ? { others } : {}),
  }
}
