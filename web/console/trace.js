import { h } from './dom.js'

// Tracing: watch the messages matching a filter or a client id, each as a
// card that fills in as its rules, actions and deliveries report.

export class TraceView {
  constructor(els, stream) {
    this.els = els
    this.stream = stream
    this.cards = new Map()
    this.abort = undefined
    els.form.addEventListener('submit', (e) => {
      e.preventDefault()
      void this.start()
    })
    els.stop.addEventListener('click', () => this.stop('Stopped.'))
  }

  async start() {
    this.stop()
    const filter = this.els.filter.value.trim()
    const clientId = this.els.client.value.trim()
    if (!filter && !clientId) {
      this.els.status.textContent = 'Give a topic filter or a client id to watch.'
      return
    }
    const query = new URLSearchParams({ ...(filter ? { filter } : {}), ...(clientId ? { clientId } : {}) })
    const abort = (this.abort = new AbortController())
    this.els.list.replaceChildren()
    this.cards.clear()
    this.els.stop.disabled = false
    this.els.status.textContent = 'Connecting…'
    try {
      await this.stream(`/console/trace?${query}`, (name, data) => this.#on(name, data), abort.signal)
      if (this.abort === abort) this.stop('The watch ended.')
    } catch (err) {
      if (abort.signal.aborted) return
      this.stop(err.message)
    }
  }

  stop(message) {
    this.abort?.abort()
    this.abort = undefined
    this.els.stop.disabled = true
    if (message) this.els.status.textContent = message
  }

  #on(name, data) {
    if (name === 'ready') {
      this.els.status.textContent = `Watching ${data.filter ?? ''}${data.filter && data.clientId ? ' from ' : ''}${data.clientId ?? ''}: messages appear as they arrive.`
      return
    }
    if (name === 'ended') return this.stop(`The watch ended: ${data.reason}.`)
    if (data.type === 'message') return this.#message(data)
    const card = this.cards.get(data.trace)
    if (!card) return
    const at = `+${Math.max(0, data.at - card.started)} ms`
    if (data.type === 'rule') {
      card.steps.append(h('li', { class: `step rule ${data.passed ? 'ok' : 'skip'}` },
        h('span', { class: 'what' }, `rule ${data.rule}`), ' ',
        h('span', { class: 'muted' }, data.error ? `failed: ${data.error}` : data.passed ? 'passed' : 'did not pass'), ' ',
        h('span', { class: 'time' }, at),
        data.passed ? h('pre', { class: 'output', 'aria-label': `SELECT output of ${data.rule}` }, JSON.stringify(data.output, null, 2)) : ''))
    } else if (data.type === 'action') {
      const did = data.did ? Object.entries(data.did).filter(([k]) => k !== 'kind').map(([k, v]) => `${k}: ${typeof v === 'string' ? v : JSON.stringify(v)}`).join(', ') : ''
      card.steps.append(h('li', { class: `step action ${data.ok ? 'ok' : 'bad'}` },
        h('span', { class: 'what' }, `${data.kind} (rule ${data.rule}, action ${data.action + 1})`), ' ',
        h('span', { class: 'muted' }, data.ok ? `done in ${data.ms} ms` : `failed in ${data.ms} ms: ${data.error}`), ' ',
        h('span', { class: 'time' }, at),
        did ? h('div', { class: 'did' }, did) : ''))
    } else if (data.type === 'delivery') {
      card.steps.append(h('li', { class: `step delivery ${data.ok ? 'ok' : 'bad'}` },
        h('span', { class: 'what' }, `→ ${data.target}`), data.via ? h('span', { class: 'muted' }, ` via route ${data.via}`) : '', ' ',
        h('span', { class: 'muted' }, data.ok ? `delivered in ${data.ms} ms` : `attempt failed in ${data.ms} ms: ${data.error}`), ' ',
        h('span', { class: 'time' }, at)))
    }
  }

  #message(data) {
    const steps = h('ol', { class: 'steps' })
    const payload = data.payload.encoding === 'utf8' ? data.payload.text : `(${data.payload.bytes} bytes, base64) ${data.payload.text}`
    const card = h('li', { class: 'trace-card', 'data-trace': data.trace },
      h('h3', {}, h('code', {}, data.topic), ' ', h('span', { class: 'muted' }, `from ${data.clientId ?? 'the broker'} at ${new Date(data.at).toLocaleTimeString()}`)),
      h('pre', { class: 'payload', 'aria-label': 'Payload' }, payload),
      steps)
    this.cards.set(data.trace, { steps, started: data.at })
    this.els.list.prepend(card)
    // The last 100 messages stay on the page.
    while (this.els.list.children.length > 100) {
      const last = this.els.list.lastElementChild
      this.cards.delete(last.dataset.trace)
      last.remove()
    }
  }
}
