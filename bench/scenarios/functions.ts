import type { BenchCase, Scenario } from './scenario.js'
import { pubSubCase } from './pubsub-case.js'
import { withStallProbe } from './switchyard-probes.js'

const SYNC_CLIENTS = 8

/** The sync endpoint: `answer` returns its event, each client waits for its answer before the next request. */
const syncInvoke: BenchCase = {
  id: 'functions-sync',
  label: `Sync, \`POST /api/functions/answer/invoke\`, ${SYNC_CLIENTS} requests in flight`,
  peers: ['switchyard-fn'],
  websocket: false,
  chart: 'cpu-per-delivery',
  measure: (peer, { mode, runLoad }) => {
    const sy = peer.switchyard
    if (!sy) throw new Error('functions-sync runs on Switchyard only')
    return runLoad({
      kind: 'http-invoke',
      url: `${sy.httpUrl}/api/functions/answer/invoke`,
      token: sy.adminToken,
      brokerPid: peer.pid,
      clients: SYNC_CLIENTS,
      warmupMs: mode.warmupMs,
      measureMs: mode.measureMs,
      drainMs: mode.drainMs,
    })
  },
}

/** Scenario 7: local functions behind a rule, through the worker pool, and called over HTTP. */
export const functionInvocations: Scenario = {
  number: 7,
  title: 'Functions: invocations through the worker pool',
  short: 'Functions',
  method: `A rule on \`bench/+/x\` invokes a local function (a worker of the pool) that publishes the event on to \`bench-fn/<i>\` with \`ctx.publish\`; the subscriber there times each one from the original publish. Saturated (10 publishers, QoS 0: invocations per second) and at a fixed 1,000 per second (latency). Then the sync endpoint: ${SYNC_CLIENTS} HTTP clients on keep-alive connections call a function that returns its event, each sending its next request when answered; every answer is checked, and latency runs from the request to the answer. The longest event-loop stall is measured as in scenario 6.`,
  cases: [
    withStallProbe(pubSubCase({ id: 'functions-saturated', label: 'Saturated', peers: ['switchyard-fn'], qos: 0, publishers: 10, subscribers: 1, filter: 'bench-fn/+', unordered: true, chart: 'cpu-per-delivery' })),
    withStallProbe(pubSubCase({ id: 'functions-rate', label: '1,000 invocations per second', peers: ['switchyard-fn'], qos: 0, publishers: 10, subscribers: 1, filter: 'bench-fn/+', unordered: true, ratePerSecond: 1000 })),
    withStallProbe(syncInvoke),
  ],
}
