import mqtt, { type IClientOptions, type MqttClient, type IPublishPacket } from 'mqtt'

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

  constructor(client: MqttClient) {
    client.on('message', (topic, payload, packet) => {
      this.messages.push({ topic, payload: payload.toString(), packet })
      for (const w of this.#waiters) w()
    })
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
export function connectWithInbox(url: string, options: IClientOptions = {}): Promise<{ client: MqttClient; inbox: Inbox }> {
  const client = mqtt.connect(url, { reconnectPeriod: 0, connectTimeout: 5000, ...options })
  const inbox = new Inbox(client)
  return new Promise((resolve, reject) => {
    client.once('connect', () => {
      client.off('error', reject)
      resolve({ client, inbox })
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
