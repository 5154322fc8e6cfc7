// The types of the session store interface, which this persistence implements.
export type {
  BrokerRef, ClientRef, ClientSubscription, PacketInput, StoredPacket, StoredWill, SubscriptionInput, TopicSubscription,
} from '../storage/session-types.js'
