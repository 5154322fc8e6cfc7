import type { Aedes, Client } from 'aedes'
import type { MQEmitter } from 'mqemitter'
import type { Logger } from 'pino'
import type { Connections } from './connection-info.js'
import { clientsById, sentDisconnect, wrapRegisterClient } from './internals/index.js'

/** The fields of a client that every lifecycle event about it carries. */
export interface ClientFields {
  clientId: string
  username: string | null
  ipAddress: string | null
  transport: string | null
}

/**
 * Where the clients connected to this node are listed for the other nodes of
 * a cluster. A client's disconnected event is published by whoever takes it
 * off the list: this node as the connection ends, or, when this node dies,
 * the node that finds it dead. Each is published once.
 */
export interface ClientDirectory {
  connected(client: ClientFields): void
  /** Resolves true when this call took the client off the list (and its event is this node's to publish). */
  disconnected(clientId: string): Promise<boolean>
}

export interface LifecycleOptions {
  /** Every event names the node it happened on. */
  nodeId: string
  directory?: ClientDirectory | undefined
}

/** Publishes one lifecycle event (JSON, QoS 1), logging a failure. */
export function publishLifecycleEvent(broker: Aedes, topic: string, body: Record<string, unknown>, log: Logger): void {
  broker.publish({ cmd: 'publish', topic, payload: Buffer.from(JSON.stringify(body)), qos: 1, retain: false, dup: false }, (err) => {
    if (err) log.warn({ err, topic }, 'could not publish a lifecycle event')
  })
}

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
export function publishLifecycleEvents(broker: Aedes, connections: Connections, log: Logger, options: LifecycleOptions): void {
  markTakeovers(broker, connections)
  const { nodeId, directory } = options
  const publish = (topic: string, body: Record<string, unknown>) => publishLifecycleEvent(broker, topic, body, log)

  const fields = (client: Client): ClientFields => {
    const info = connections.get(client)
    return {
      clientId: client.id,
      username: info?.username ?? null,
      ipAddress: info?.ipAddress ?? null,
      transport: info?.transport ?? null,
    }
  }
  const base = (client: Client, eventType: string) => ({ ...fields(client), timestamp: Date.now(), eventType, node: nodeId })

  // Connected as the CONNACK is written (Aedes' clientReady comes only once
  // the session's queue is sent, after a client may have come and gone). A
  // client that left before even that had its disconnected event already:
  // it is not announced as connected after it. In a cluster, the clients
  // this node put on the directory's list.
  const listed = new WeakSet<Client>()
  broker.on('connackSent', (_connack, client) => {
    if (client.closed) return
    const info = connections.get(client)
    if (directory) {
      directory.connected(fields(client))
      listed.add(client)
    }
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
    const event = {
      ...base(client, 'disconnected'),
      clientInitiatedDisconnect: reason === 'CLIENT_INITIATED_DISCONNECT',
      disconnectReason: reason,
      ...(info?.errorMessage ? { error: info.errorMessage } : {}),
    }
    const topic = `$events/presence/disconnected/${client.id}`
    if (!directory || !listed.has(client)) return publish(topic, event)
    directory.disconnected(client.id).then((ours) => {
      if (ours) publish(topic, event)
    }, (err: unknown) => log.warn({ err, clientId: client.id }, 'could not take a client off the cluster\'s list; its disconnected event is left to the node that does'))
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
 * event says so. (A takeover by a client on another node of a cluster is
 * marked by markRemoteTakeovers.)
 */
function markTakeovers(broker: Aedes, connections: Connections): void {
  wrapRegisterClient(broker, (register) => (client) => {
    const previous = clientsById(broker)[client.id]
    if (previous && previous !== client) connections.setReason(previous, 'DUPLICATE_CLIENTID')
    register(client)
  })
}

/**
 * In a cluster, a node announces each client it registers on
 * `$SYS/{brokerId}/new/clients`, and the other nodes close their connection
 * with that client id (Aedes, aedes.js `closeSameClients`): such a closed
 * connection's disconnected event says DUPLICATE_CLIENTID. Install it on the
 * emitter before Aedes is created, so that it runs before Aedes' own listener
 * closes the connection.
 */
export function markRemoteTakeovers(mq: MQEmitter, broker: () => Aedes | undefined, connections: Connections): void {
  mq.on('$SYS/+/new/clients', (packet, done) => {
    const aedes = broker()
    const clientId = String(packet.payload)
    const client = aedes && packet.topic.split('/')[1] !== aedes.id ? clientsById(aedes)[clientId] : undefined
    if (client && !client.closed) connections.setReason(client, 'DUPLICATE_CLIENTID')
    done()
  })
}
