import { connect, type Socket } from 'node:net'
import { performance } from 'node:perf_hooks'
import { setTimeout as sleep } from 'node:timers/promises'
import { cpuSeconds, machineBusySeconds, rssKb } from '../lib/proc-stats.js'
import type { HttpInvokeJob, PubSubResult } from './job.js'
import { LatencyHistogram } from './latency-histogram.js'

const nowNs = () => Math.round(performance.now() * 1e6)

const HEAD_END = Buffer.from('\r\n\r\n')

/**
 * One keep-alive HTTP/1.1 connection that POSTs JSON and reads each answer,
 * one request at a time. Written on a socket, as the MQTT load is, so that
 * the generator's cost does not rival the broker's: node:http's client
 * spent about as much CPU a request as the broker did, and held the rate to
 * what one core of it could send. It reads only what the broker sends
 * (a status line, headers with a Content-Length, the body) and fails the
 * request on anything else.
 */
class HttpConnection {
  readonly #socket: Socket
  readonly #head: string
  #buffered: Buffer = Buffer.alloc(0)
  #waiting: { resolve(answer: { status: number; body: string }): void; reject(err: Error): void } | undefined
  #closed: Error | undefined

  private constructor(socket: Socket, url: URL, token: string) {
    this.#socket = socket
    this.#head = `POST ${url.pathname} HTTP/1.1\r\nHost: ${url.host}\r\nAuthorization: Bearer ${token}\r\nContent-Type: application/json\r\nContent-Length: `
    socket.setNoDelay(true)
    socket.on('data', (chunk: Buffer) => this.#read(chunk))
    socket.on('error', (err) => this.#close(err))
    socket.on('close', () => this.#close(new Error('the connection closed')))
  }

  static open(url: URL, token: string): Promise<HttpConnection> {
    return new Promise((resolve, reject) => {
      // An IPv6 host is written in brackets in a URL, not in a socket's address.
      const socket = connect(Number(url.port || 80), url.hostname.replace(/^\[(.*)\]$/, '$1'), () => {
        socket.off('error', reject)
        resolve(new HttpConnection(socket, url, token))
      })
      socket.once('error', reject)
    })
  }

  post(body: string): Promise<{ status: number; body: string }> {
    if (this.#closed) return Promise.reject(this.#closed)
    return new Promise((resolve, reject) => {
      this.#waiting = { resolve, reject }
      this.#socket.write(`${this.#head}${Buffer.byteLength(body)}\r\n\r\n${body}`)
    })
  }

  destroy(): void {
    this.#socket.destroy()
  }

  #read(chunk: Buffer): void {
    this.#buffered = this.#buffered.length === 0 ? chunk : Buffer.concat([this.#buffered, chunk])
    const headEnd = this.#buffered.indexOf(HEAD_END)
    if (headEnd === -1) return
    const head = this.#buffered.toString('latin1', 0, headEnd)
    const status = /^HTTP\/1\.1 (\d{3}) /.exec(head)
    const length = /\r\ncontent-length: *(\d+)/i.exec(head)
    if (!status || !length || /\r\ntransfer-encoding:/i.test(head)) {
      this.#close(new Error(`an answer this client does not read: ${JSON.stringify(head.slice(0, 200))}`))
      this.#socket.destroy()
      return
    }
    const bodyStart = headEnd + HEAD_END.length
    const bodyEnd = bodyStart + Number(length[1])
    if (this.#buffered.length < bodyEnd) return
    const body = this.#buffered.toString('utf8', bodyStart, bodyEnd)
    this.#buffered = this.#buffered.subarray(bodyEnd)
    const waiting = this.#waiting
    this.#waiting = undefined
    if (!waiting) {
      this.#close(new Error('an answer to no request'))
      this.#socket.destroy()
      return
    }
    waiting.resolve({ status: Number(status[1]), body })
  }

  #close(err: Error): void {
    this.#closed ??= err
    const waiting = this.#waiting
    this.#waiting = undefined
    waiting?.reject(err)
  }
}

/**
 * `clients` loops, each on its own keep-alive connection, each sending an
 * invocation whose event carries its client and sequence number and
 * checking that the answer carries them back (the function returns its
 * event). A request that fails or answers wrongly is counted as lost.
 */
export async function runHttpInvoke(job: HttpInvokeJob): Promise<PubSubResult> {
  const url = new URL(job.url)
  const connections = await Promise.all(Array.from({ length: job.clients }, () => HttpConnection.open(url, job.token)))
  const latency = new LatencyHistogram()
  let sent = 0
  let answered = 0
  let firstError: string | undefined
  let measuring = false
  let stopped = false

  const client = async (c: number) => {
    for (let seq = 0; !stopped; seq++) {
      const started = nowNs()
      sent++
      try {
        const res = await connections[c]!.post(JSON.stringify({ event: { c, seq } }))
        const result = res.status === 200 ? (JSON.parse(res.body) as { result?: { c?: number; seq?: number } }).result : undefined
        if (result?.c === c && result.seq === seq) {
          answered++
          if (measuring) latency.record(nowNs() - started)
        } else {
          firstError ??= `HTTP ${res.status}: ${res.body.slice(0, 200)}`
        }
      } catch (err) {
        // The connection is gone: this client stops, and its request counts as lost.
        firstError ??= (err as Error).message
        return
      }
    }
  }

  const snapshot = () => ({ at: performance.now(), wallClock: Date.now(), brokerCpu: cpuSeconds(job.brokerPid), machineBusy: machineBusySeconds(), ownCpu: process.cpuUsage(), answered })
  const loops = Array.from({ length: job.clients }, (_, c) => client(c))
  await sleep(job.warmupMs)
  const first = snapshot()
  measuring = true
  await sleep(job.measureMs)
  measuring = false
  const last = snapshot()
  const brokerRssKb = rssKb(job.brokerPid)
  stopped = true
  // Each loop ends once its request in flight is answered.
  await Promise.race([Promise.all(loops), sleep(job.drainMs)])
  for (const connection of connections) connection.destroy()
  if (answered < sent && firstError) throw new Error(`${sent - answered} of ${sent} invocations failed; the first: ${firstError}`)

  const windowSeconds = (last.at - first.at) / 1000
  const inWindow = last.answered - first.answered
  const brokerCpuSeconds = last.brokerCpu - first.brokerCpu
  const ownCpuUs = last.ownCpu.user + last.ownCpu.system - first.ownCpu.user - first.ownCpu.system
  return {
    kind: 'pubsub',
    published: sent,
    expected: sent,
    received: answered,
    lost: sent - answered,
    duplicates: 0,
    outOfOrder: 0,
    windowSeconds,
    deliveriesInWindow: inWindow,
    deliveriesPerSecond: inWindow / windowSeconds,
    publishesPerSecond: inWindow / windowSeconds,
    brokerCpuSeconds,
    brokerCpuUsPerDelivery: inWindow > 0 ? (brokerCpuSeconds * 1e6) / inWindow : Number.NaN,
    brokerCpuPercent: (brokerCpuSeconds / windowSeconds) * 100,
    generatorCpuPercent: (ownCpuUs / 1e6 / windowSeconds) * 100,
    otherCpuPercent: Math.max(0, ((last.machineBusy - first.machineBusy - brokerCpuSeconds - ownCpuUs / 1e6) / windowSeconds) * 100),
    latencyP50Ms: latency.quantileMs(0.5),
    latencyP99Ms: latency.quantileMs(0.99),
    brokerRssKb,
    fellBehind: false,
    windowStartedAt: first.wallClock,
    windowEndedAt: last.wallClock,
  }
}
