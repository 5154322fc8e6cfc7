// The flow map: topic filters → rules → actions → routes → targets, in five
// columns. Rules are grouped by the first level of their topic filter; a
// group can be collapsed to one box (groups start collapsed past 40 rules),
// and the search box dims what does not match and opens the groups that do.

const SVG = 'http://www.w3.org/2000/svg'
const COLUMN = { filter: 0, events: 0, group: 1, rule: 1, action: 2, route: 3, function: 4, http: 4, topic: 4, store: 4 }
const COL_X = [20, 270, 520, 760, 1000]
const BOX_W = 210
const BOX_H = 46
const ROW = 58
const GROUP_GAP = 30
const KIND_NAME = { filter: 'topic filter', events: '$events input', rule: 'rule', action: 'action', route: 'route', function: 'function', http: 'HTTP endpoint', topic: 'republished topic', store: 'store table', group: 'group' }

export class FlowMapView {
  constructor(container, { onSelect }) {
    this.container = container
    this.onSelect = onSelect
    this.collapsed = new Map()
    this.query = ''
    this.selected = undefined
    this.map = { nodes: [], edges: [] }
  }

  search(query) {
    this.query = query.trim().toLowerCase()
    this.render()
  }

  update(map) {
    this.map = map
    this.render()
  }

  toggleGroup(group) {
    this.collapsed.set(group, !this.isCollapsed(group))
    this.render()
  }

  isCollapsed(group) {
    if (this.query && this.map.nodes.some((n) => n.group === group && this.matches(n))) return false
    if (this.collapsed.has(group)) return this.collapsed.get(group)
    return this.map.nodes.filter((n) => n.kind === 'rule').length > 40
  }

  matches(node) {
    return !this.query || node.label.toLowerCase().includes(this.query) || node.id.toLowerCase().includes(this.query)
  }

  render() {
    const { nodes, edges } = layout(this.map, (g) => this.isCollapsed(g))
    const height = Math.max(200, ...nodes.map((n) => n.y + BOX_H + 20))
    const svg = el('svg', { viewBox: `0 0 ${COL_X[4] + BOX_W + 20} ${height}`, width: COL_X[4] + BOX_W + 20, height, role: 'group' })
    const focused = document.activeElement?.dataset?.id
    for (const [i, title] of ['Topic filters', 'Rules', 'Actions', 'Routes', 'Targets'].entries()) {
      svg.append(text(title, COL_X[i], 14, 'column-title'))
    }
    const byId = new Map(nodes.map((n) => [n.id, n]))
    const edgeLayer = el('g', { class: 'edges' })
    const nodeLayer = el('g', { class: 'nodes' })
    for (const edge of edges) {
      const a = byId.get(edge.from)
      const b = byId.get(edge.to)
      if (!a || !b) continue
      const x1 = a.x + BOX_W
      const y1 = a.y + BOX_H / 2
      const x2 = b.x
      const y2 = b.y + BOX_H / 2
      const dim = this.query && !(this.matches(a) || this.matches(b))
      const path = el('path', {
        d: `M${x1},${y1} C${x1 + 50},${y1} ${x2 - 50},${y2} ${x2},${y2}`,
        class: `edge${edge.onError ? ' on-error' : ''}${edge.rate > 0 ? ' flowing' : ''}${dim ? ' dim' : ''}`,
        'stroke-width': 1.5 + Math.min(6, Math.log2(1 + edge.rate)),
      })
      edgeLayer.append(path)
      const label = [edge.rate > 0 ? `${formatRate(edge.rate)}/s` : '', edge.weight !== undefined && edge.weight < 1 ? `${Math.round(edge.weight * 100)}%` : ''].filter(Boolean).join(' · ')
      if (label) edgeLayer.append(text(label, (x1 + x2) / 2, (y1 + y2) / 2 - 4, `edge-label${dim ? ' dim' : ''}`, 'middle'))
    }
    for (const node of nodes) {
      const dim = this.query && !this.matches(node)
      const errors = hasErrors(node)
      const g = el('g', {
        class: `node kind-${node.kind}${errors ? ' errors' : ''}${dim ? ' dim' : ''}${node.id === this.selected ? ' selected' : ''}${node.stats?.enabled === false ? ' disabled' : ''}${node.stats?.held ? ' held' : ''}`,
        transform: `translate(${node.x},${node.y})`,
        tabindex: '0',
        role: 'button',
        'data-id': node.id,
        'aria-label': `${KIND_NAME[node.kind]} ${node.label}: ${summary(node)}`,
      })
      g.append(el('rect', { width: BOX_W, height: BOX_H, rx: 8 }))
      g.append(text(clip(node.label, 28), 10, 19, 'label'))
      g.append(text(clip(summary(node), 34), 10, 36, 'stats'))
      const open = () => {
        if (node.kind === 'group') return this.toggleGroup(node.group)
        this.selected = node.id
        this.onSelect(node, this.map)
        this.render()
      }
      g.addEventListener('click', open)
      g.addEventListener('keydown', (e) => {
        if (e.key === 'Enter' || e.key === ' ') {
          e.preventDefault()
          open()
        }
      })
      nodeLayer.append(g)
    }
    for (const group of new Set(nodes.filter((n) => n.kind === 'rule' || n.kind === 'group').map((n) => n.group))) {
      const first = nodes.find((n) => n.group === group && (n.kind === 'rule' || n.kind === 'group'))
      const collapsed = this.isCollapsed(group)
      const button = el('g', { class: 'group-toggle', transform: `translate(${COL_X[1]},${first.y - 20})`, tabindex: '0', role: 'button', 'aria-expanded': String(!collapsed), 'aria-label': `${collapsed ? 'Open' : 'Collapse'} the rules on ${group}`, 'data-id': `toggle:${group}` })
      button.append(text(`${collapsed ? '▸' : '▾'} ${group}/`, 0, 12, 'group-title'))
      button.addEventListener('click', () => this.toggleGroup(group))
      button.addEventListener('keydown', (e) => {
        if (e.key === 'Enter' || e.key === ' ') {
          e.preventDefault()
          this.toggleGroup(group)
        }
      })
      nodeLayer.append(button)
    }
    svg.append(edgeLayer, nodeLayer)
    this.container.replaceChildren(svg)
    if (focused) svg.querySelector(`[data-id="${CSS.escape(focused)}"]`)?.focus()
  }
}

/** Places the nodes: rules in order of group and name; every other column at the mean height of what feeds it. */
function layout(map, collapsed) {
  const shown = []
  const redirect = new Map()
  const rules = map.nodes.filter((n) => n.kind === 'rule').sort((a, b) => a.group.localeCompare(b.group) || a.label.localeCompare(b.label))
  const actionsOf = new Map()
  for (const e of map.edges) if (e.to.startsWith('action:')) actionsOf.set(e.from, [...(actionsOf.get(e.from) ?? []), e.to])
  const byId = new Map(map.nodes.map((n) => [n.id, n]))
  let y = 40
  let group
  for (const rule of rules) {
    if (rule.group !== group) {
      group = rule.group
      y += group === rules[0].group ? 0 : GROUP_GAP
      if (collapsed(group)) {
        const members = rules.filter((r) => r.group === group)
        const stats = { rules: members.length, matched: sum(members, 'matched'), failed: sum(members, 'failed') }
        shown.push({ id: `group:${group}`, kind: 'group', label: `${group}/ (${members.length} rules)`, group, stats, x: COL_X[1], y: y + 20 })
        y += ROW + 20
      } else {
        y += 20
      }
    }
    if (collapsed(group)) {
      redirect.set(rule.id, `group:${group}`)
      for (const a of actionsOf.get(rule.id) ?? []) redirect.set(a, `group:${group}`)
      continue
    }
    shown.push({ ...rule, x: COL_X[1], y })
    const actions = actionsOf.get(rule.id) ?? []
    actions.forEach((id, i) => shown.push({ ...byId.get(id), x: COL_X[2], y: y + i * ROW }))
    y += Math.max(1, actions.length) * ROW
  }
  // A target that only collapsed groups feed is drawn in one box per group ("10 targets").
  const feeds = new Map()
  for (const e of map.edges) {
    const to = byId.get(e.to)
    if (!to || COLUMN[to.kind] !== 4) continue
    const from = redirect.get(e.from) ?? e.from
    feeds.set(e.to, [...(feeds.get(e.to) ?? []), from])
  }
  const folded = new Map()
  for (const [id, from] of feeds) {
    const groups = new Set(from)
    if (groups.size !== 1 || !from[0].startsWith('group:')) continue
    const group = from[0].slice('group:'.length)
    const box = `targets:${group}`
    redirect.set(id, box)
    folded.set(box, { group, count: (folded.get(box)?.count ?? 0) + 1 })
  }
  const edges = []
  const merged = new Map()
  for (const e of map.edges) {
    const from = redirect.get(e.from) ?? e.from
    const to = redirect.get(e.to) ?? e.to
    if (from === to) continue
    const key = `${from}->${to}`
    const seen = merged.get(key)
    if (seen) seen.rate += e.rate
    else merged.set(key, { ...e, from, to })
  }
  edges.push(...merged.values())
  const place = (kinds, column, extra = []) => {
    const placed = new Map(shown.map((n) => [n.id, n]))
    const list = [...map.nodes, ...extra].filter((n) => kinds.includes(n.kind) && !redirect.has(n.id)).map((n) => {
      const near = edges.filter((e) => e.to === n.id || e.from === n.id).map((e) => placed.get(e.to === n.id ? e.from : e.to)).filter(Boolean)
      return { ...n, x: COL_X[column], y: near.length ? near.reduce((s, m) => s + m.y, 0) / near.length : Infinity }
    })
    list.sort((a, b) => a.y - b.y || a.label.localeCompare(b.label))
    let next = 40
    for (const n of list) {
      n.y = Math.max(Number.isFinite(n.y) ? n.y : next, next)
      next = n.y + ROW
      shown.push(n)
    }
  }
  place(['filter', 'events'], 0)
  place(['route'], 3)
  place(['function', 'http', 'topic', 'store', 'group'], 4, [...folded].map(([id, { group, count }]) => ({ id, kind: 'group', label: `${count} targets of ${group}/`, group, stats: { targets: count } })))
  // Filters only collapsed rules read: drawn beside their group.
  return { nodes: shown, edges }
}

function summary(node) {
  const s = node.stats ?? {}
  switch (node.kind) {
    case 'filter': return 'topic filter'
    case 'events': return '$events input'
    case 'group': return s.targets !== undefined ? 'open the group to see them' : `${s.rules} rules · ${s.matched} matched${s.failed ? ` · ${s.failed} failed` : ''}`
    case 'rule': return `${s.enabled === false ? 'disabled · ' : ''}${s.matched} matched · ${s.passed} passed${s.failed ? ` · ${s.failed} failed` : ''}`
    case 'action': return `${node.label}${s.onError ? ' (on error)' : ''} · ${s.success} ok${s.failure ? ` · ${s.failure} failed` : ''}`
    case 'route': return `${s.held ? `held · ${s.waiting} waiting` : 'live'}${s.fanout ? ' · fan-out' : ''}`
    case 'function': return `${formatRate(s.invocationsPerSecond ?? 0)}/s · p99 ${s.p99Ms ?? '–'} ms${s.failed ? ` · ${s.failed} failed` : ''}${s.deadLettered ? ` · ${s.deadLettered} dead` : ''}`
    case 'http': return `${s.delivered} sent${s.failed ? ` · ${s.failed} failed` : ''}${s.deadLettered ? ` · ${s.deadLettered} dead` : ''}`
    case 'topic': return 'republish'
    case 'store': return 'store table'
    default: return ''
  }
}

function hasErrors(node) {
  const s = node.stats ?? {}
  return Boolean(s.failed || s.failure || s.deadLettered)
}

function sum(nodes, key) {
  return nodes.reduce((total, n) => total + (n.stats?.[key] ?? 0), 0)
}

function formatRate(rate) {
  return rate >= 10 ? String(Math.round(rate)) : rate.toFixed(1)
}

function clip(value, n) {
  return value.length > n ? `${value.slice(0, n - 1)}…` : value
}

function el(name, attrs = {}) {
  const node = document.createElementNS(SVG, name)
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v))
  return node
}

function text(value, x, y, cls, anchor) {
  const t = el('text', { x, y, class: cls, ...(anchor ? { 'text-anchor': anchor } : {}) })
  t.textContent = value
  return t
}

export { KIND_NAME, summary }
