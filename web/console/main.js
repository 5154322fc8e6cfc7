import { api, ApiError, stream, token } from './api.js'
import { h } from './dom.js'
import { FlowMapView, KIND_NAME, summary } from './map.js'
import { TraceView } from './trace.js'

const $ = (id) => document.getElementById(id)

// Theme: the system's, unless chosen here (kept for this browser).
const THEME = 'switchyard.console.theme'
function applyTheme(theme) {
  document.documentElement.dataset.theme = theme ?? ''
  const dark = theme === 'dark' || (!theme && matchMedia('(prefers-color-scheme: dark)').matches)
  $('theme').textContent = dark ? 'Light' : 'Dark'
  $('theme').setAttribute('aria-pressed', String(dark))
}
applyTheme(localStorage.getItem(THEME))
// The system's scheme may change while the page is open: the toggle then offers the other one.
matchMedia('(prefers-color-scheme: dark)').addEventListener('change', () => applyTheme(localStorage.getItem(THEME)))
$('theme').addEventListener('click', () => {
  const dark = $('theme').getAttribute('aria-pressed') === 'true'
  localStorage.setItem(THEME, dark ? 'light' : 'dark')
  applyTheme(dark ? 'light' : 'dark')
})

// Tabs: arrow keys move between them, as the ARIA tabs pattern has it.
const tabs = [...document.querySelectorAll('[role="tab"]')]
function select(tab) {
  for (const t of tabs) {
    const on = t === tab
    t.setAttribute('aria-selected', String(on))
    t.tabIndex = on ? 0 : -1
    $(t.getAttribute('aria-controls')).hidden = !on
  }
  if (tab.id === 'tab-dead') void loadDeadLetters()
}
for (const [i, tab] of tabs.entries()) {
  tab.addEventListener('click', () => select(tab))
  tab.addEventListener('keydown', (e) => {
    const step = e.key === 'ArrowRight' ? 1 : e.key === 'ArrowLeft' ? -1 : 0
    if (!step) return
    const next = tabs[(i + step + tabs.length) % tabs.length]
    next.focus()
    select(next)
  })
}
select(tabs[0])

// Sign in: the admin token, for this tab only. The API answers 403 when it is off.
async function start() {
  try {
    await api('/console/map')
  } catch (err) {
    if (err instanceof ApiError && err.status === 403) return show('disabled')
    if (err instanceof ApiError && err.status === 401) {
      if (token.get()) $('login-error').textContent = 'That token was refused.'
      token.clear()
      return show('login')
    }
    throw err
  }
  show('app')
  void followMap()
}

function show(which) {
  $('login').hidden = which !== 'login'
  $('disabled').hidden = which !== 'disabled'
  $('app').hidden = which !== 'app'
  $('logout').hidden = which !== 'app'
  if (which === 'login') $('token').focus()
}

$('login-form').addEventListener('submit', (e) => {
  e.preventDefault()
  token.set($('token').value.trim())
  $('token').value = ''
  void start()
})
$('logout').addEventListener('click', () => {
  token.clear()
  location.reload()
})

// The map, live: the server sends it again every second.
const mapView = new FlowMapView($('map'), { onSelect: (node, map) => void openPanel(node, map) })
$('search').addEventListener('input', (e) => mapView.search(e.target.value))
let current = { nodes: [], edges: [] }

async function followMap() {
  for (;;) {
    try {
      setLive('on', 'Live')
      await stream('/console/map/stream', (name, map) => {
        if (name !== 'map') return
        current = map
        mapView.update(map)
        const rules = map.nodes.filter((n) => n.kind === 'rule').length
        $('map-summary').textContent = `${rules} rules · ${map.nodes.filter((n) => n.kind === 'route').length} routes · updated ${new Date(map.at).toLocaleTimeString()}`
        refreshPanel(map)
      })
    } catch (err) {
      if (err instanceof ApiError && err.status === 401) return start()
    }
    setLive('off', 'Reconnecting…')
    await new Promise((r) => setTimeout(r, 2000))
  }
}

function setLive(state, label) {
  $('live').dataset.state = state
  $('live').textContent = label
}

// The side panel: what a node is, its counts, and what can be done to it.
let panelNode
async function openPanel(node, map) {
  panelNode = node
  const panel = $('panel')
  panel.hidden = false
  panel.replaceChildren(h('h2', {}, `${KIND_NAME[node.kind]} `, h('code', {}, node.label)), h('p', { class: 'muted', id: 'panel-summary' }, summary(node)))
  const stats = h('dl', { class: 'stats', id: 'panel-stats' })
  fillStats(stats, node)
  panel.append(stats)
  if (node.kind === 'route') panel.append(await routeControls(node))
  if (node.kind === 'rule') panel.append(ruleControls(node))
  if (node.kind === 'function' || node.kind === 'http') {
    const button = h('button', { type: 'button' }, 'Its dead letters')
    button.addEventListener('click', () => {
      $('dead-status').dataset.target = node.kind === 'function' ? node.id : ''
      select($('tab-dead'))
    })
    panel.append(button)
  }
  const close = h('button', { type: 'button', class: 'quiet' }, 'Close')
  close.addEventListener('click', () => {
    panel.hidden = true
    panelNode = undefined
    mapView.selected = undefined
    mapView.render()
  })
  panel.append(close)
  void map
}

function refreshPanel(map) {
  if (!panelNode) return
  const node = map.nodes.find((n) => n.id === panelNode.id)
  if (!node) return
  const stats = $('panel-stats')
  if (stats) fillStats(stats, node)
  const line = $('panel-summary')
  if (line) line.textContent = summary(node)
  const hold = $('route-hold')
  if (hold && node.kind === 'route') hold.textContent = node.stats.held ? 'Release' : 'Hold'
  if (node.kind === 'rule') showRuleSwitch(node.stats)
}

function fillStats(dl, node) {
  dl.replaceChildren()
  for (const [k, v] of Object.entries(node.stats ?? {})) {
    if (k === 'sql') continue
    dl.append(h('dt', {}, k), h('dd', { 'data-stat': k }, v === null ? '–' : String(v)))
  }
  if (node.stats?.sql) dl.append(h('dt', {}, 'sql'), h('dd', {}, h('code', {}, node.stats.sql)))
}

async function routeControls(node) {
  const name = node.label
  const box = h('div', { class: 'controls' })
  const route = await api(`/routes/${encodeURIComponent(name)}`)
  const hold = h('button', { type: 'button', id: 'route-hold' }, route.held ? 'Release' : 'Hold')
  hold.addEventListener('click', async () => {
    const held = (current.nodes.find((n) => n.id === node.id)?.stats.held) ?? route.held
    const done = await api(`/routes/${encodeURIComponent(name)}/${held ? 'release' : 'hold'}`, { method: 'POST' })
    hold.textContent = done.held ? 'Release' : 'Hold'
    say(done.held ? `Route ${name} is held: events wait until it is released.` : `Route ${name} released${done.released !== undefined ? `: ${done.released} events go out` : ''}.`)
  })
  const flush = h('button', { type: 'button' }, 'Flush')
  flush.addEventListener('click', async () => {
    const r = await api(`/routes/${encodeURIComponent(name)}/flush`, { method: 'POST' })
    say(r.missing?.length ? `Flushed; no answer from ${r.missing.join(', ')}.` : 'Every node read the route again.')
  })
  box.append(h('div', { class: 'row' }, hold, flush))
  if (!route.fanout && route.targets.length > 1) {
    const form = h('form', { class: 'weights' }, h('h3', {}, 'Weights'))
    const inputs = route.targets.map((t, i) => {
      const label = targetLabel(t)
      const input = h('input', { type: 'range', min: '0', max: '100', step: '1', value: String(t.weight ?? 1), id: `weight-${i}`, 'aria-describedby': `weight-out-${i}` })
      const out = h('output', { id: `weight-out-${i}`, for: `weight-${i}` }, String(t.weight ?? 1))
      input.addEventListener('input', () => (out.textContent = input.value))
      form.append(h('label', { for: `weight-${i}` }, label), h('div', { class: 'row' }, input, out))
      return input
    })
    form.append(h('button', { type: 'submit' }, 'Change weights…'))
    form.addEventListener('submit', async (e) => {
      e.preventDefault()
      const weights = inputs.map((i) => Number(i.value))
      const total = weights.reduce((a, b) => a + b, 0)
      if (total === 0) return say('At least one target needs a weight above 0.')
      const split = route.targets.map((t, i) => `${targetLabel(t)}: ${Math.round((weights[i] / total) * 100)}%`)
      if (!(await confirmDialog(`Change the split of ${name}?`, split))) return
      const targets = route.targets.map((t, i) => ({ ...t, weight: weights[i] }))
      await api(`/routes/${encodeURIComponent(name)}`, { method: 'PUT', body: { targets, fanout: route.fanout } })
      say(`Route ${name} now splits ${split.join(', ')}.`)
    })
    box.append(form)
  }
  return box
}

// A rule switched on or off here wins over its `enabled` in the config, on
// every node and after a restart, until Reset hands it back to the config.
function ruleControls(node) {
  const name = node.label
  const toggle = h('button', { type: 'button', id: 'rule-toggle' })
  const reset = h('button', { type: 'button', class: 'quiet', id: 'rule-reset' }, 'Reset to the config')
  const source = h('p', { class: 'muted', id: 'rule-source' })
  const box = h('div', { class: 'controls' }, h('div', { class: 'row' }, toggle, reset), source)
  showRuleSwitch(node.stats, { toggle, reset, source })
  const send = async (what) => {
    const done = await api(`/rules/${encodeURIComponent(name)}/${what}`, { method: 'POST' })
    showRuleSwitch(done, { toggle, reset, source })
    return done
  }
  toggle.addEventListener('click', async () => {
    const enabled = (current.nodes.find((n) => n.id === node.id)?.stats.enabled) ?? node.stats.enabled
    const done = await send(enabled ? 'disable' : 'enable')
    say(done.enabled ? `Rule ${name} is enabled on every node.` : `Rule ${name} is disabled on every node: messages no longer run it.`)
  })
  reset.addEventListener('click', async () => {
    const done = await send('reset')
    say(`Rule ${name} is back to the config: ${done.enabled ? 'enabled' : 'disabled'}.`)
  })
  return box
}

function showRuleSwitch({ enabled, enabledSource }, els = { toggle: $('rule-toggle'), reset: $('rule-reset'), source: $('rule-source') }) {
  if (!els.toggle) return
  els.toggle.textContent = enabled ? 'Disable' : 'Enable'
  els.reset.hidden = enabledSource !== 'api'
  els.source.textContent = enabledSource === 'api'
    ? `${enabled ? 'Enabled' : 'Disabled'} from the console or the admin API: this wins over the config until reset.`
    : `${enabled ? 'Enabled' : 'Disabled'} as the config says.`
}

function targetLabel(t) {
  return t.function ? `function ${t.function}` : t.route ? `route ${t.route}` : t.url ? t.url : `topic ${t.topic}`
}

function confirmDialog(title, lines) {
  const dialog = $('confirm')
  $('confirm-title').textContent = title
  $('confirm-body').replaceChildren(h('ul', {}, ...lines.map((l) => h('li', {}, l))))
  dialog.returnValue = ''
  dialog.showModal()
  return new Promise((resolve) => dialog.addEventListener('close', () => resolve(dialog.returnValue === 'ok'), { once: true }))
}

function say(message) {
  const p = h('p', { class: 'notice', role: 'status' }, message)
  $('panel').append(p)
  setTimeout(() => p.remove(), 8000)
}

// Tracing.
new TraceView({ form: $('trace-form'), filter: $('trace-filter'), client: $('trace-client'), stop: $('trace-stop'), status: $('trace-status'), list: $('trace-list') }, stream)

// The dry run: POST /api/rules/test.
$('dry-form').addEventListener('submit', async (e) => {
  e.preventDefault()
  const out = $('dry-result')
  const raw = $('dry-payload').value
  let payload
  try {
    payload = JSON.parse(raw)
  } catch {
    payload = raw
  }
  try {
    const { results } = await api('/rules/test', { method: 'POST', body: { topic: $('dry-topic').value, payload, ...($('dry-client').value ? { clientId: $('dry-client').value } : {}) } })
    out.replaceChildren(results.length === 0
      ? h('p', {}, 'No rule matches this topic.')
      : h('ol', { class: 'dry-list' }, ...results.map((r) => h('li', { class: r.passed ? 'passed' : 'skipped' },
        h('h3', {}, r.rule, ' ', h('span', { class: 'muted' }, r.error ? 'failed' : r.passed ? 'passes' : 'does not pass')),
        r.error ? h('p', { class: 'error' }, r.error) : '',
        h('pre', {}, JSON.stringify(r, null, 2))))))
  } catch (err) {
    out.replaceChildren(h('p', { class: 'error', role: 'alert' }, err.message))
  }
})

// Dead letters: the latest 100, replayed by selection.
async function loadDeadLetters() {
  const target = $('dead-status').dataset.target
  const { deadLetters } = await api(`/deadletters${target ? `?target=${encodeURIComponent(target)}` : ''}`)
  $('dead-status').textContent = `${deadLetters.length} dead letters${target ? ` of ${target}` : ''}`
  $('dead-rows').replaceChildren(...deadLetters.map((d) => {
    const box = h('input', { type: 'checkbox', value: String(d.id), 'aria-label': `Select dead letter ${d.id}` })
    box.addEventListener('change', () => ($('dead-replay').disabled = !document.querySelector('#dead-rows input:checked')))
    return h('tr', {}, h('td', {}, box), h('td', {}, String(d.id)), h('td', {}, d.target), h('td', {}, d.via ?? ''), h('td', {}, String(d.attempts)), h('td', {}, d.error ?? d.lastError ?? ''), h('td', {}, new Date(d.failedAt).toLocaleString()))
  }))
  $('dead-replay').disabled = true
}
$('dead-refresh').addEventListener('click', () => {
  delete $('dead-status').dataset.target
  void loadDeadLetters()
})
$('dead-replay').addEventListener('click', async () => {
  const ids = [...document.querySelectorAll('#dead-rows input:checked')].map((i) => Number(i.value))
  if (!(await confirmDialog(`Replay ${ids.length} dead letters?`, ids.map((id) => `dead letter ${id}`)))) return
  const { replayed } = await api('/deadletters/replay', { method: 'POST', body: { ids } })
  await loadDeadLetters()
  $('dead-status').textContent = `${replayed} replayed`
})

void start()
