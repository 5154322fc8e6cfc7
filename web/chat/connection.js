import mqtt from '/vendor/mqtt/mqtt.esm.js'

/** How often a connected tab says it is still here (the backlog function forgets members after 5 minutes). */
const HEARTBEAT_MS = 2 * 60_000

/**
 * One tab's MQTT connection to the chat, over WebSocket at `/mqtt`:
 *
 *   subscribes  chat/in/{clientId}, chat/pub/{room}, chat/presence/{room}
 *   publishes   chat/join after each (re)connect, once subscribed, so the
 *               welcome (backlog and members) cannot be missed;
 *               chat/out for messages; chat/here as a heartbeat and when the
 *               name changes.
 *
 * MQTT.js reconnects on its own (`reconnectPeriod`); each reconnect is a
 * fresh clean session, so the tab joins again and gets a fresh welcome.
 */
export class ChatConnection {
  #client = undefined
  #heartbeat = undefined

  /**
   * `on`: status(state, detail) with state connecting | online | offline |
   * reconnecting; connected(); message(m); presence(event); welcome(w).
   */
  constructor({ url, clientId, credentials, room, name, on }) {
    this.url = url
    this.clientId = clientId
    this.credentials = credentials
    this.room = room
    this.name = name
    this.on = on
    this.topics = {
      inbox: `chat/in/${clientId}`,
      room: `chat/pub/${room}`,
      presence: `chat/presence/${room}`,
    }
  }

  get connected() {
    return this.#client?.connected === true
  }

  start() {
    this.on.status('connecting')
    const client = (this.#client = mqtt.connect(this.url, {
      clientId: this.clientId,
      ...(this.credentials ?? {}),
      clean: true,
      keepalive: 30,
      connectTimeout: 10_000,
      reconnectPeriod: 2_000,
      // We subscribe ourselves on every connect, before joining.
      resubscribe: false,
      // Nothing is sent while offline: the page says so and keeps the text.
      queueQoSZero: false,
    }))

    client.on('connect', () => {
      this.on.connected()
      client.subscribe(Object.values(this.topics), { qos: 1 }, (err) => {
        if (err) {
          this.on.status('offline', `could not subscribe: ${err.message}`)
          return
        }
        this.#publish('chat/join', { room: this.room, name: this.name })
        this.on.status('online')
      })
    })
    client.on('message', (topic, payload) => this.#receive(topic, payload))
    client.on('reconnect', () => this.on.status('reconnecting'))
    client.on('close', () => this.on.status('offline'))
    client.on('error', (err) => this.on.status(client.connected ? 'online' : 'offline', err.message))

    this.#heartbeat = setInterval(() => this.announce(), HEARTBEAT_MS)
  }

  /** Sends a message to the room; false when not connected (the text stays in the box). */
  send(text) {
    if (!this.connected) return false
    this.#publish('chat/out', { room: this.room, message: text, name: this.name })
    return true
  }

  rename(name) {
    this.name = name
    this.announce()
  }

  /** Tells the room this tab is here, under its current name. */
  announce() {
    if (this.connected) this.#publish('chat/here', { room: this.room, name: this.name })
  }

  #publish(topic, body) {
    this.#client.publish(topic, JSON.stringify(body), { qos: 1 })
  }

  #receive(topic, payload) {
    let body
    try {
      body = JSON.parse(new TextDecoder().decode(payload))
    } catch {
      return // not ours: every chat payload is JSON
    }
    if (topic === this.topics.room) this.on.message(body)
    else if (topic === this.topics.presence) this.on.presence(body)
    else if (topic === this.topics.inbox && body?.type === 'welcome' && body.room === this.room) this.on.welcome(body)
  }
}
