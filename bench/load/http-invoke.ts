import { Agent, request } from 'node:http'
import { performance } from 'node:perf_hooks'
import { setTimeout as sleep } from 'node:timers/promises'
import { cpuSeconds, machineBusySeconds, rssKb } from '../lib/proc-stats.js'
import type { HttpInvokeJob, PubSubResult } from './job.js'
import { LatencyHistogram } from './latency-histogram.js'

const nowNs = () => Math.round(performance.now() * 1e6)

/** One POST; resolves with the status and the body, rejects on a broken connection. */
function post(agent: Agent, url: URL, token: string, body: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, {
      method: 'POST',
      agent,
      headers: { 'authorization': `Bearer ${token}`, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
    }, (res) => {
      let text = ''
      res.setEncoding('utf8')
      res.on('data', (chunk: string) => (text += chunk))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }))
      res.on('error', reject)
    })
    req.on('error', reject)
    req.end(body)
  })
}

/**
 * `clients` loops, each on its own keep-alive connection, each sending an
 * invocation whose event carries its client and sequence number and
 * checking that the answer carries them back (the function returns its
 * event). A request that fails or answers wrongly is counted as lost.
 */
export async function runHttpInvoke(job: HttpInvokeJob): Promise<PubSubResult> {
  const url = new URL(job.url)
  const agent = new Agent({ keepAlive: true, maxSockets: job.clients })
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
        const res = await post(agent, url, job.token, JSON.stringify({ event: { c, seq } }))
        const result = res.status === 200 ? (JSON.parse(res.body) as { result?: { c?: number; seq?: number } }).result : undefined
        if (result?.c === c && result.seq === seq) {
          answered++
          if (measuring) latency.record(nowNs() - started)
        } else {
          firstError ??= `HTTP ${res.status}: ${res.body.slice(0, 200)}`
        }
      } catch (err) {
        firstError ??= (err as Error).message
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
  agent.destroy()
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
