import type { Aedes, Client } from 'aedes'
import type { Logger } from 'pino'
import type { Connections } from './connection-info.js'
import { clientsById, sentDisconnect, wrapRegisterClient } from './internals/index.js'

/**
 * Publishes the broker's lifecycle events as JSON on `$events/...` topics, in
 * the shape of AWS IoT's lifecycle events, so that rules and clients can use
 * them like any other message:
 *
 *   $events/presence/connected/{clientId}
 *   $events/presence/disconnected/{clientId}
 *   $events/subscriptions/subscribed/{clientId}
 *   $events/subscriptions/unsubscribed/{clientId}
 *
 * Published at QoS 1, so a persistent subscriber does not miss presence
 * changes while it is away.
 */
export function publishLifecycleEvents(broker: Aedes, connections: Connections, log: Logger): void {
  markTakeovers(broker, connections)

  const publish = (topic: string, body: Record<string, unknown>) => {
    broker.publish({ cmd: 'publish', topic, payload: Buffer.from(JSON.stringify(body)), qos: 1, retain: false, dup: false }, (err) => {
      if (err) log.warn({ err, topic }, 'could not publish a lifecycle event')
    })
  }

  const base = (client: Client, eventType: string) => {
    const info = connections.get(client)
    return {
      clientId: client.id,
      username: info?.username ?? null,
      timestamp: Date.now(),
      eventType,
      ipAddress: info?.ipAddress ?? null,
      transport: info?.transport ?? null,
    }
  }

  broker.on('clientReady', (client) => {
    const info = connections.get(client)
    publish(`$events/presence/connected/${client.id}`, {
      ...base(client, 'connected'),
      cleanSession: info?.cleanSession ?? true,
      keepAlive: info?.keepAlive ?? 0,
      protocolVersion: info?.protocolVersion ?? 4,
    })
  })

  broker.on('keepaliveTimeout', (client) => connections.setReason(client, 'MQTT_KEEP_ALIVE_TIMEOUT'))
  broker.on('clientError', (client, err) => connections.setReason(client, 'CLIENT_ERROR', err.message))

  broker.on('clientDisconnect', (client) => {
    const info = connections.get(client)
    const reason = info?.disconnectReason ?? (
      sentDisconnect(client) ? 'CLIENT_INITIATED_DISCONNECT'
        : broker.closed ? 'SERVER_INITIATED_DISCONNECT'
          : 'CONNECTION_LOST')
    publish(`$events/presence/disconnected/${client.id}`, {
      ...base(client, 'disconnected'),
      clientInitiatedDisconnect: reason === 'CLIENT_INITIATED_DISCONNECT',
      disconnectReason: reason,
      ...(info?.errorMessage ? { error: info.errorMessage } : {}),
    })
  })

  broker.on('subscribe', (subscriptions, client) => {
    const granted = subscriptions.filter((s) => (s.qos as number) !== 128)
    if (granted.length === 0) return
    publish(`$events/subscriptions/subscribed/${client.id}`, {
      ...base(client, 'subscribed'),
      topics: granted.map((s) => s.topic),
      subscriptions: granted.map((s) => ({ topic: s.topic, qos: s.qos })),
    })
  })

  broker.on('unsubscribe', (topics, client) => {
    // Aedes also reports the subscriptions a clean session drops as it
    // closes; only an UNSUBSCRIBE is an unsubscribed event.
    if (client.closed) return
    publish(`$events/subscriptions/unsubscribed/${client.id}`, { ...base(client, 'unsubscribed'), topics })
  })

}

/**
 * A CONNECT with the id of a client that is online takes the session over and
 * closes the older connection [MQTT-3.1.4-2]; that connection's disconnected
 * event says so.
 */
function markTakeovers(broker: Aedes, connections: Connections): void {
  wrapRegisterClient(broker, (register) => (client) => {
    const previous = clientsById(broker)[client.id]
    if (previous && previous !== client) connections.setReason(previous, 'DUPLICATE_CLIENTID')
    register(client)
  })
}
