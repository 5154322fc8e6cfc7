/** The part of an Aedes client the store reads. */
export interface ClientRef {
  readonly id: string
  /** Set by Aedes when it deletes the will of a client of a given broker. */
  readonly brokerId?: string
}

/** The part of an Aedes broker the store reads. */
export interface BrokerRef {
  readonly id: string
}

/**
 * A packet as Aedes hands it to the store. The fields are listed (rather than
 * an index signature) so that MQTT.js and mqtt-packet packet types are
 * accepted as they are; any other field is stored too.
 */
export interface PacketInput {
  cmd?: string
  topic?: string
  payload?: Buffer | Uint8Array | string | null
  qos?: number
  retain?: boolean
  dup?: boolean
  messageId?: number
  brokerId?: string | null
  brokerCounter?: number
  properties?: object
  length?: number
  clientId?: string
  nl?: boolean
  messageExpiry?: number
}

/** A packet as the store returns it: every field that went in, payload included. */
export interface StoredPacket {
  cmd?: string
  topic?: string
  payload?: Buffer | string
  qos?: number
  retain?: boolean
  dup?: boolean
  messageId?: number
  brokerId?: string
  brokerCounter?: number
  properties?: Record<string, unknown>
  [field: string]: unknown
}

/** A will as the store returns it: the will packet with its client and broker. */
export interface StoredWill extends StoredPacket {
  clientId: string
  brokerId: string
}

/** One entry of a SUBSCRIBE, as Aedes stores it for a persistent session. */
export interface SubscriptionInput {
  topic: string
  qos: number
  /** MQTT 5 retain handling, 0..2. */
  rh?: number
  /** MQTT 5 retain as published. */
  rap?: boolean
  /** MQTT 5 no local. */
  nl?: boolean
  /** MQTT 5 subscription identifier, restored with the session. */
  subscriptionIdentifier?: number
}

/** A client's own subscription, as `subscriptionsByClient` returns it. */
export interface ClientSubscription {
  topic: string
  qos: number
  rh: number | undefined
  rap: boolean | undefined
  nl: boolean | undefined
  subscriptionIdentifier?: number
}

/** A subscription matching a topic, as `subscriptionsByTopic` returns it. */
export interface TopicSubscription {
  clientId: string
  topic: string
  qos: number
  rh: number | undefined
  rap: boolean | undefined
  nl: boolean | undefined
}

/** A persistent session that `expireSessions` removed. */
export interface ExpiredSession {
  clientId: string
  /** Whose session it was, as `claimSession` recorded it; undefined for a session kept from before that record. */
  owner: string | undefined
  /** When its client's last connection ended, or when the store first found it without one (ms since the epoch, by the store's clock). */
  disconnectedAt: number
  /** The connection whose end began the wait, as `claimSession` was given it, when the store knows it. */
  connection: string | undefined
}
