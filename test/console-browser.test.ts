import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { Browser, Page } from 'playwright-core'
import { beforeEach, describe, expect, it } from 'vitest'
import { fixturePath } from './helpers/fixtures.js'
import { closedPort } from './helpers/net.js'
import { launchChromium } from './helpers/chromium.js'
import { useApp } from './helpers/use-app.js'
import { waitUntil } from './helpers/wait.js'

// The console (/console) in real Chromium, on a real app: the live map, control
// from it, and tracing. Screenshots go to test-artifacts/ for review.

const ROOT = fileURLToPath(new URL('../', import.meta.url))
const ARTIFACTS = join(ROOT, 'test-artifacts')
const TOKEN = 'console-admin-token-0123456789'
const f = useApp({ adminToken: TOKEN })
const tag = fixturePath('router/tag.js')

const rules = (extra = '') => `
functions:
  blue: { module: ${tag} }
  green: { module: ${tag} }
routes:
  orders:
    targets: [ { function: blue, weight: 9 }, { function: green, weight: 1 } ]
rules:
  - name: route-orders
    sql: SELECT *, topic(2) AS shop FROM 'orders/+'
    actions:
      - invoke: { route: orders }
      - republish: { topic: 'audit/\${topic(2)}' }
  - name: presence
    sql: SELECT clientId FROM '$events/presence/connected/+'
    actions:
      - store: { table: seen }
${extra}`

let browser: Browser | undefined

async function openConsole(): Promise<{ page: Page; errors: string[] }> {
  const context = await browser!.newContext({ viewport: { width: 1400, height: 900 } })
  context.setDefaultTimeout(10_000)
  const page = await context.newPage()
  const errors: string[] = []
  page.on('pageerror', (err) => errors.push(err.message))
  page.on('console', (msg) => {
    // The first request before signing in is answered 401, which Chromium logs: not an error of the page.
    if (msg.type() === 'error' && !/status of 401/.test(msg.text())) errors.push(msg.text())
  })
  await page.goto(`${f.app.httpUrl}/console`)
  await page.getByLabel('Admin token').fill(TOKEN)
  await page.getByRole('button', { name: 'Open the console' }).click()
  await page.locator('#live[data-state="on"]').waitFor()
  return { page, errors }
}

const node = (page: Page, id: string) => page.locator(`svg [data-id="${id}"]`)

describe('the console', () => {
  beforeEach(async () => {
    mkdirSync(ARTIFACTS, { recursive: true })
    browser = await launchChromium(f)
  })

  it('asks for the token, draws the map, and shows a rule added by hot reload within a second', async () => {
    const t = await f.start(rules())
    const { page, errors } = await openConsole()
    await node(page, 'rule:route-orders').waitFor()
    for (const id of ['filter:orders/+', 'action:route-orders/0', 'route:orders', 'function:blue', 'function:green', 'filter:$events/presence/connected/+', 'store:seen']) {
      await node(page, id).waitFor()
    }
    // The route's split is on its edges.
    await page.locator('svg .edge-label', { hasText: '90%' }).waitFor()
    await page.screenshot({ path: join(ARTIFACTS, 'console-map.png') })

    const file = join(t.dir, 'switchyard.yaml')
    writeFileSync(file, `${readFileSync(file, 'utf8')}
  - name: late-comer
    sql: SELECT * FROM 'late/#'
    actions:
      - republish: { topic: 'late-out' }
`)
    await waitUntil(() => t.app.engine.rules.rules.some((r) => r.name === 'late-comer'), { what: 'the reload to take rule late-comer', timeout: 5000 })
    const loaded = performance.now()
    await node(page, 'rule:late-comer').waitFor()
    const shownAfter = performance.now() - loaded
    expect(shownAfter).toBeLessThan(1000)
    console.log(`a reloaded rule on the map ${shownAfter.toFixed(0)} ms after the reload`)

    // Light and dark: the system's, until the toggle chooses.
    const background = () => page.evaluate<string>('getComputedStyle(document.body).backgroundColor')
    await page.emulateMedia({ colorScheme: 'dark' })
    expect(await background()).toBe('rgb(16, 18, 23)')
    await page.getByRole('button', { name: 'Light' }).click()
    expect(await background()).toBe('rgb(246, 247, 251)')
    await page.screenshot({ path: join(ARTIFACTS, 'console-light.png') })
    await page.getByRole('button', { name: 'Dark' }).click()
    expect(await background()).toBe('rgb(16, 18, 23)')
    await page.screenshot({ path: join(ARTIFACTS, 'console-dark.png') })

    // From the keyboard: a node takes the focus, and Enter opens its panel.
    await node(page, 'rule:route-orders').focus()
    await page.keyboard.press('Enter')
    await page.locator('#panel').getByRole('button', { name: 'Disable' }).waitFor()

    // Search dims what does not match.
    await page.getByLabel('Find').fill('late')
    await expect(node(page, 'rule:route-orders').getAttribute('class')).resolves.toContain('dim')
    await expect(node(page, 'rule:late-comer').getAttribute('class')).resolves.not.toContain('dim')
    expect(errors).toEqual([])
  })

  it('holds a route from the map: deliveries stop and the waiting count rises; a new split is confirmed first', async () => {
    await f.start(rules())
    const { page, errors } = await openConsole()
    await node(page, 'route:orders').click()
    await page.getByRole('button', { name: 'Hold' }).click()
    await page.getByText('Route orders is held').waitFor()
    const pub = await f.connect({ clientId: 'shop' })
    for (let i = 0; i < 5; i++) await pub.publishAsync('orders/rome', JSON.stringify({ n: i }), { qos: 1 })
    await node(page, 'route:orders').filter({ hasText: '5 waiting' }).waitFor()
    const map = await f.api('/console/map') as { nodes: Array<{ id: string; stats: Record<string, number> }> }
    expect(map.nodes.filter((n) => n.id.startsWith('function:')).map((n) => n.stats.delivered)).toEqual([0, 0])
    await page.screenshot({ path: join(ARTIFACTS, 'console-held.png') })

    // Weights: the dialog shows the new split before it is applied.
    await page.getByLabel('function blue', { exact: true }).fill('50')
    await page.getByLabel('function green', { exact: true }).fill('50')
    await page.getByRole('button', { name: 'Change weights…' }).click()
    await page.getByRole('dialog').getByText('function blue: 50%').waitFor()
    await page.getByRole('button', { name: 'Apply' }).click()
    await page.getByText('Route orders now splits function blue: 50%, function green: 50%').waitFor()
    expect((await f.api('/routes/orders')).targets.map((x: { weight: number }) => x.weight)).toEqual([50, 50])

    await page.getByRole('button', { name: 'Flush' }).click()
    await page.getByText('Every node read the route again.').waitFor()

    await page.getByRole('button', { name: 'Release' }).click()
    await waitUntil(async () => (await f.api('/console/map') as typeof map).nodes.filter((n) => n.id.startsWith('function:')).reduce((s, n) => s + (n.stats.delivered ?? 0), 0), { until: (n) => n === 5, what: 'the 5 held events delivered', timeout: 5000 })
    expect(errors).toEqual([])
  })

  it('disables a rule from its panel: the map shows it disabled and a published message no longer runs it, until enabled or reset', async () => {
    // A later rule on the same topic is the sign that a message was considered.
    await f.start(rules(`  - name: witness
    sql: SELECT * FROM 'orders/+'
    actions:
      - republish: { topic: 'seen/\${topic(2)}' }
`))
    const { client, inbox } = await f.connectWithInbox({ clientId: 'rule-switch-watcher' })
    await client.subscribeAsync('audit/#', { qos: 1 })
    await client.subscribeAsync('seen/#', { qos: 1 })
    const pub = await f.connect({ clientId: 'rule-switch-shop' })
    /** The topics the rules republished a message on orders/{shop} to. */
    const republished = async (shop: string) => {
      await pub.publishAsync(`orders/${shop}`, JSON.stringify({ shop }), { qos: 1 })
      await inbox.waitFor((m) => m.some((x) => x.topic === `seen/${shop}`), 5000, `seen/${shop}`)
      await inbox.flush()
      return inbox.messages.filter((m) => m.topic.endsWith(`/${shop}`)).map((m) => m.topic).sort()
    }
    expect(await republished('rome')).toEqual(['audit/rome', 'seen/rome'])

    const { page, errors } = await openConsole()
    await node(page, 'rule:route-orders').click()
    await page.getByText('Enabled as the config says.').waitFor()
    expect(await page.getByRole('button', { name: 'Reset to the config', exact: true }).isHidden()).toBe(true)
    await page.getByRole('button', { name: 'Disable', exact: true }).click()
    await page.getByText('Rule route-orders is disabled on every node').waitFor()
    await page.locator('svg .node.disabled[data-id="rule:route-orders"]').filter({ hasText: 'disabled' }).waitFor()
    await page.getByText('Disabled from the console or the admin API').waitFor()
    await page.locator('#panel dd[data-stat="enabledSource"]', { hasText: 'api' }).waitFor()
    expect(await republished('oslo')).toEqual(['seen/oslo'])
    expect((await f.api('/rules')).rules.find((r: { name: string }) => r.name === 'route-orders')).toMatchObject({ enabled: false, enabledSource: 'api', stats: { matched: 1 } })
    await page.screenshot({ path: join(ARTIFACTS, 'console-rule-disabled.png') })

    await page.getByRole('button', { name: 'Enable', exact: true }).click()
    await page.getByText('Rule route-orders is enabled on every node').waitFor()
    await page.locator('svg .node:not(.disabled)[data-id="rule:route-orders"]').waitFor()
    expect(await republished('lima')).toEqual(['audit/lima', 'seen/lima'])
    await page.getByRole('button', { name: 'Reset to the config', exact: true }).click()
    await page.getByText('Rule route-orders is back to the config: enabled.').waitFor()
    await page.getByRole('button', { name: 'Reset to the config', exact: true }).waitFor({ state: 'hidden' })
    expect((await f.api('/rules')).rules.find((r: { name: string }) => r.name === 'route-orders')).toMatchObject({ enabled: true, enabledSource: 'config' })
    expect(errors).toEqual([])
  })

  it('traces a message through a rule into a function and a republish', async () => {
    await f.start(rules())
    const { page, errors } = await openConsole()
    await page.getByRole('tab', { name: 'Trace' }).click()
    await page.getByLabel('Topic filter', { exact: true }).fill('orders/#')
    await page.getByRole('button', { name: 'Watch' }).click()
    await page.getByText('Watching orders/#').waitFor()
    const pub = await f.connect({ clientId: 'trace-shop' })
    await pub.publishAsync('orders/oslo', JSON.stringify({ amount: 7 }), { qos: 1 })
    const card = page.locator('.trace-card', { hasText: 'orders/oslo' })
    await card.waitFor()
    await card.locator('.step.rule', { hasText: 'rule route-orders' }).waitFor()
    await card.getByLabel('SELECT output of route-orders').filter({ hasText: '"shop": "oslo"' }).waitFor()
    await card.locator('.step.action.ok', { hasText: 'republish' }).filter({ hasText: 'audit/oslo' }).waitFor()
    await card.locator('.step.delivery.ok', { hasText: /function:(blue|green)/ }).filter({ hasText: 'via route orders' }).waitFor()
    await page.screenshot({ path: join(ARTIFACTS, 'console-trace.png') })
    expect(errors).toEqual([])
  })

  it('keeps 100 rules readable: grouped by topic prefix and collapsed, opened by a click or by the search', async () => {
    const many = Array.from({ length: 100 }, (_, i) => `  - name: r${i}
    sql: SELECT * FROM 'site${i % 10}/+/temp'
    actions:
      - republish: { topic: 'out/r${i}' }`).join('\n')
    await f.start(`rules:\n${many}\n`)
    const { page, errors } = await openConsole()
    // Ten groups of ten rules, each one box, and their targets one box each too.
    await node(page, 'group:site3').waitFor()
    expect(await page.locator('svg [data-id^="group:"]').count()).toBe(10)
    expect(await page.locator('svg [data-id^="targets:"]').count()).toBe(10)
    expect(await page.locator('svg .node.kind-rule').count()).toBe(0)
    expect(await page.locator('svg .node.kind-topic').count()).toBe(0)
    await page.screenshot({ path: join(ARTIFACTS, 'console-100-rules.png') })
    await node(page, 'group:site3').click()
    await node(page, 'rule:r13').waitFor()
    expect(await page.locator('svg .node.kind-rule').count()).toBe(10)
    expect(await page.locator('svg .node.kind-topic').count()).toBe(10)
    await page.getByLabel('Find').fill('r47')
    await node(page, 'rule:r47').waitFor()
    await expect(node(page, 'rule:r47').getAttribute('class')).resolves.not.toContain('dim')
    expect(errors).toEqual([])
  })

  it('lists dead letters and replays the ones chosen, after a confirmation', async () => {
    await f.start(`
rules:
  - name: doomed
    sql: SELECT * FROM 'doomed/+'
    actions:
      - http: { url: 'http://127.0.0.1:${await closedPort()}/x', durable: true, retry: { attempts: 1 } }
`)
    const pub = await f.connect({ clientId: 'doomed-pub' })
    await pub.publishAsync('doomed/a', '{"n":1}', { qos: 1 })
    await waitUntil(async () => (await f.api('/deadletters')).deadLetters.length, { until: (n) => n === 1, what: 'a dead letter', timeout: 5000 })
    const { page, errors } = await openConsole()
    await page.getByRole('tab', { name: 'Dead letters' }).click()
    await page.getByText('1 dead letters').waitFor()
    const row = page.locator('#dead-rows tr').first()
    await row.getByText(/^url:http:\/\/127\.0\.0\.1:\d+\/x$/).waitFor()
    await row.getByRole('checkbox').check()
    await page.getByRole('button', { name: 'Replay selected' }).click()
    await page.getByRole('dialog').getByText('Replay 1 dead letters?').waitFor()
    await page.getByRole('button', { name: 'Apply' }).click()
    await page.getByText('1 replayed').waitFor()
    // Replayed, it fails again and comes back as a new dead letter.
    await waitUntil(async () => (await f.api('/deadletters')).deadLetters.length, { until: (n) => n === 1, what: 'the replayed delivery dead-lettered again', timeout: 5000 })
    expect(errors).toEqual([])
  })

  it('runs the dry run, and says how to turn the admin API on when it is off', async () => {
    await f.start(rules())
    const { page, errors } = await openConsole()
    await page.getByRole('tab', { name: 'Dry run' }).click()
    await page.getByLabel('Topic', { exact: true }).fill('orders/lima')
    await page.getByLabel('Payload').fill('{"amount": 3}')
    await page.getByRole('button', { name: 'Run the rules' }).click()
    await page.locator('#dry-result', { hasText: 'route-orders' }).filter({ hasText: '"shop": "lima"' }).waitFor()
    expect(errors).toEqual([])

    await f.start(rules(), { noAdmin: true })
    const context = await browser!.newContext()
    context.setDefaultTimeout(10_000)
    const off = await context.newPage()
    await off.goto(`${f.app.httpUrl}/console`)
    await off.getByRole('heading', { name: 'The admin API is off' }).waitFor()
    await off.locator('#disabled').getByText('admin.token').first().waitFor()
  })
})
