import { randomUUID } from 'node:crypto'
import mqtt, { type IClientOptions, type IConnackPacket, type MqttClient, type IPublishPacket } from 'mqtt'
import { within } from './wait.js'

/** Connects with the real MQTT.js client; no automatic reconnect unless asked. */
export async function connect(url: string, options: IClientOptions = {}): Promise<MqttClient> {
  return mqtt.connectAsync(url, { reconnectPeriod: 0, connectTimeout: 5000, ...options })
}

export interface Received {
  topic: string
  payload: string
  packet: IPublishPacket
}

/** Collects every message a client receives, and waits for counts or matches. */
export class Inbox {
  readonly messages: Received[] = []
  #waiters: Array<() => void> = []
  readonly #client: MqttClient
  /** The client's own topic for flush(), subscribed at the first flush; its messages are not kept. */
  readonly #flushTopic = `flush/${randomUUID()}`
  #flushSubscribed = false
  #flushes = 0
  readonly #flushed = new Map<string, () => void>()

  constructor(client: MqttClient) {
    this.#client = client
    client.on('message', (topic, payload, packet) => {
      if (topic === this.#flushTopic) return this.#flushed.get(payload.toString())?.()
      this.messages.push({ topic, payload: payload.toString(), packet })
      for (const w of this.#waiters) w()
    })
  }

  /**
   * Resolves once what the broker sent this client before the call has
   * arrived: the client publishes a QoS 1 message to itself and waits for it
   * to come back behind them. (Aedes writes a connection's deliveries in the
   * order it handles them, a QoS 1 one after its session-store write, as the
   * earlier QoS 1 and 2 ones.) A test that must show a message was not
   * delivered first waits for a sign that the broker considered it, then
   * flushes, then looks.
   */
  async flush(ms = 5000): Promise<void> {
    if (!this.#flushSubscribed) {
      await this.#client.subscribeAsync(this.#flushTopic, { qos: 1 })
      this.#flushSubscribed = true
    }
    const id = String(++this.#flushes)
    const back = new Promise<void>((resolve) => this.#flushed.set(id, resolve))
    try {
      await this.#client.publishAsync(this.#flushTopic, id, { qos: 1 })
      await within(back, ms, `flush message ${id} to come back to the client`)
    } finally {
      this.#flushed.delete(id)
    }
  }

  /** Resolves once `predicate` holds for the messages so far, or rejects after `ms`. */
  waitFor(predicate: (messages: Received[]) => boolean, ms = 5000, what = 'messages'): Promise<Received[]> {
    return new Promise((resolve, reject) => {
      const check = () => {
        if (predicate(this.messages)) {
          cleanup()
          resolve(this.messages)
        }
      }
      const timer = setTimeout(() => {
        cleanup()
        reject(new Error(`timed out waiting for ${what}; got ${JSON.stringify(this.messages.map((m) => [m.topic, m.payload]))}`))
      }, ms)
      const cleanup = () => {
        clearTimeout(timer)
        this.#waiters = this.#waiters.filter((w) => w !== check)
      }
      this.#waiters.push(check)
      check()
    })
  }

  count(n: number, ms?: number): Promise<Received[]> {
    return this.waitFor((m) => m.length >= n, ms, `${n} messages`)
  }

  on(topic: string, ms?: number): Promise<Received> {
    return this.waitFor((m) => m.some((x) => x.topic === topic), ms, `a message on ${topic}`).then(
      (m) => m.find((x) => x.topic === topic)!,
    )
  }
}

/** Ends a client and waits for it to be closed. */
export function end(client: MqttClient | undefined, force = false): Promise<void> {
  if (!client) return Promise.resolve()
  return new Promise((resolve) => client.end(force, {}, () => resolve()))
}

/**
 * Connects and listens from the first packet on, so that messages sent right
 * after the CONNACK (a persistent session's queue) are not missed.
 */
export function connectWithInbox(url: string, options: IClientOptions = {}): Promise<{ client: MqttClient; inbox: Inbox; connack: IConnackPacket }> {
  const client = mqtt.connect(url, { reconnectPeriod: 0, connectTimeout: 5000, ...options })
  const inbox = new Inbox(client)
  return new Promise((resolve, reject) => {
    client.once('connect', (connack) => {
      client.off('error', reject)
      resolve({ client, inbox, connack })
    })
    client.once('error', reject)
  })
}

/**
 * How a connection attempt ends: 'connected' (the client is then handed to
 * `keep`, to be ended after the test) or the message of the error it failed
 * with, such as MQTT.js' words for a CONNACK refusal.
 */
export function attempt(url: string, options: IClientOptions, keep: (client: MqttClient) => void): Promise<string> {
  return new Promise((resolve) => {
    const c = mqtt.connect(url, { reconnectPeriod: 0, connectTimeout: 3000, ...options })
    c.once('connect', () => {
      keep(c)
      resolve('connected')
    })
    c.once('error', (err) => {
      c.end(true)
      resolve(err.message)
    })
  })
}
