import { describe, expect, it } from 'vitest'
import { fixturePath } from './helpers/fixtures.js'
import { useApp } from './helpers/use-app.js'
import { waitUntil } from './helpers/wait.js'

// The console's API: the flow map of the running config with live rates,
// and message tracing, on a real app.

const TOKEN = 'console-admin-token-0123456789'
const f = useApp({ adminToken: TOKEN })
const tag = fixturePath('router/tag.js')

const CONFIG = `
functions:
  blue: { module: ${tag} }
  green: { module: ${tag} }
routes:
  orders:
    targets: [ { function: blue, weight: 9 }, { function: green, weight: 1 } ]
rules:
  - name: route-orders
    sql: SELECT *, topic(2) AS shop FROM 'orders/+' WHERE amount > 10
    actions:
      - invoke: { route: orders }
      - republish: { topic: 'audit/\${topic(2)}' }
  - name: keep
    sql: SELECT * FROM 'orders/#'
    actions:
      - store: { table: orders }
  - name: presence
    sql: SELECT clientId FROM '$events/presence/connected/+'
    actions:
      - republish: { topic: 'seen/\${clientId}' }
`

interface MapView {
  nodes: Array<{ id: string; kind: string; label: string; group: string; stats: Record<string, unknown> }>
  edges: Array<{ from: string; to: string; rate: number; weight?: number }>
}

/** Reads a stream of server-sent events from an API path until `done` says so. */
async function readEvents(path: string, done: (events: Array<{ event: string; data: any }>) => boolean, signal: AbortSignal): Promise<Array<{ event: string; data: any }>> {
  const res = await fetch(`${f.app.httpUrl}/api${path}`, { headers: { authorization: `Bearer ${TOKEN}` }, signal })
  expect(res.status).toBe(200)
  expect(res.headers.get('content-type')).toContain('text/event-stream')
  const events: Array<{ event: string; data: any }> = []
  const decoder = new TextDecoder()
  let buffer = ''
  for await (const chunk of res.body!) {
    buffer += decoder.decode(chunk as Uint8Array, { stream: true })
    let end: number
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const block = buffer.slice(0, end)
      buffer = buffer.slice(end + 2)
      const event = /^event: (.*)$/m.exec(block)?.[1]
      const data = /^data: (.*)$/m.exec(block)?.[1]
      if (event && data) events.push({ event, data: JSON.parse(data) })
    }
    if (done(events)) break
  }
  return events
}

describe('GET /api/console/map', () => {
  it('draws filters, rules, actions, routes with their weights and targets, $events inputs as such, and rates from the last minute', async () => {
    await f.start(CONFIG)
    const map = await f.api('/console/map') as MapView
    const node = (id: string) => map.nodes.find((n) => n.id === id)
    expect(node('filter:orders/+')).toMatchObject({ kind: 'filter', group: 'orders' })
    expect(node('filter:$events/presence/connected/+')).toMatchObject({ kind: 'events', group: '$events' })
    expect(node('rule:route-orders')?.stats).toMatchObject({ enabled: true, matched: 0 })
    expect(node('route:orders')?.stats).toMatchObject({ held: false, waiting: 0 })
    expect(node('function:blue')).toMatchObject({ kind: 'function' })
    expect(node('topic:audit/${topic(2)}')).toMatchObject({ kind: 'topic' })
    expect(node('store:orders')).toMatchObject({ kind: 'store' })
    const edge = (from: string, to: string) => map.edges.find((e) => e.from === from && e.to === to)
    expect(edge('filter:orders/+', 'rule:route-orders')).toBeDefined()
    expect(edge('rule:route-orders', 'action:route-orders/0')).toBeDefined()
    expect(edge('action:route-orders/0', 'route:orders')).toBeDefined()
    expect(edge('route:orders', 'function:blue')?.weight).toBeCloseTo(0.9)
    expect(edge('route:orders', 'function:green')?.weight).toBeCloseTo(0.1)
    expect(edge('action:route-orders/1', 'topic:audit/${topic(2)}')).toBeDefined()

    const pub = await f.connect({ clientId: 'shop' })
    for (let i = 0; i < 20; i++) await pub.publishAsync('orders/berlin', JSON.stringify({ amount: 50 }), { qos: 1 })
    const live = await waitUntil(async () => await f.api('/console/map') as MapView, {
      what: 'a rate on the edge into the rule and the function counts',
      timeout: 5000,
      until: (m) => (m.edges.find((e) => e.to === 'rule:route-orders')?.rate ?? 0) > 0 && ((m.nodes.find((n) => n.id === 'function:blue')?.stats.delivered as number) + (m.nodes.find((n) => n.id === 'function:green')?.stats.delivered as number)) === 20,
    })
    expect(live.nodes.find((n) => n.id === 'rule:route-orders')?.stats).toMatchObject({ matched: 20, passed: 20 })
    expect(live.nodes.find((n) => n.id === 'function:blue')?.stats.p99Ms).toBeTypeOf('number')
  })

  it('ends its streams when the app shuts down', async () => {
    const t = await f.start(CONFIG)
    const res = await fetch(`${t.httpUrl}/api/console/map/stream`, { headers: { authorization: `Bearer ${TOKEN}` } })
    const reader = res.body!.getReader()
    expect((await reader.read()).done).toBe(false)
    await t.close()
    for (;;) if ((await reader.read()).done) break
  })

  it('is behind the admin token', async () => {
    await f.start(CONFIG)
    expect((await fetch(`${f.app.httpUrl}/api/console/map`)).status).toBe(401)
    expect((await fetch(`${f.app.httpUrl}/api/console/trace?filter=x`)).status).toBe(401)
  })
})

describe('GET /api/console/trace', () => {
  it('shows a message as it enters, the rules it matched with their SELECT output, each action with its result and time, and the function it went to', async () => {
    await f.start(CONFIG)
    const stop = new AbortController()
    f.defer(() => stop.abort())
    const pub = await f.connect({ clientId: 'tracer-shop' })
    const reading = readEvents('/console/trace?filter=orders/%2B', (events) => {
      const first = events.find((e) => e.event === 'trace' && e.data.type === 'message')?.data.trace
      return events.some((e) => e.event === 'trace' && e.data.type === 'delivery' && e.data.trace === first)
    }, stop.signal)
    // The watch starts once the stream is open: publish until the first message is seen.
    let events: Array<{ event: string; data: any }> = []
    const published = (async () => {
      for (let i = 0; i < 50 && !stop.signal.aborted; i++) {
        await pub.publishAsync('orders/paris', JSON.stringify({ amount: 99 }), { qos: 1 })
        await new Promise((r) => setTimeout(r, 100))
      }
    })()
    events = await reading
    stop.abort()
    await published.catch(() => {})
    const steps = events.filter((e) => e.event === 'trace').map((e) => e.data)
    const message = steps.find((s) => s.type === 'message')
    expect(message).toMatchObject({ topic: 'orders/paris', clientId: 'tracer-shop', payload: { text: '{"amount":99}', encoding: 'utf8', bytes: 13 } })
    const trace = message.trace
    const ofIt = steps.filter((s) => s.trace === trace)
    expect(ofIt.find((s) => s.type === 'rule' && s.rule === 'route-orders')).toMatchObject({ passed: true, output: { amount: 99, shop: 'paris' } })
    const republish = ofIt.find((s) => s.type === 'action' && s.rule === 'route-orders' && s.kind === 'republish')
    expect(republish).toMatchObject({ ok: true, did: { topic: 'audit/paris' } })
    expect(republish.ms).toBeTypeOf('number')
    expect(ofIt.find((s) => s.type === 'action' && s.kind === 'invoke')).toMatchObject({ ok: true })
    expect(ofIt.find((s) => s.type === 'delivery')).toMatchObject({ via: 'orders', ok: true, target: expect.stringMatching(/^function:(blue|green)$/) })
  })

  it('asks for a filter or a client id, and a valid filter', async () => {
    await f.start(CONFIG)
    const get = (q: string) => fetch(`${f.app.httpUrl}/api/console/trace${q}`, { headers: { authorization: `Bearer ${TOKEN}` } })
    const none = await get('')
    expect(none.status).toBe(400)
    expect((await none.json() as { error: string }).error).toMatch(/filter|client id/)
    expect((await get('?filter=a/%23/b')).status).toBe(400)
  })
})
