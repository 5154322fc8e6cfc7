/**
 * Every use of Aedes 1.2 and mqtt-packet 9.0 that goes past their public
 * API, in one place. Nothing else in src/broker reads or replaces a
 * private property of an Aedes instance, a Client or a parser, or relies
 * on how they work inside; it calls these functions. Each patch point is
 * looked for at start (checkAedesInternals, from createBroker), package.json
 * pins the versions they are written for, and each has a contract test
 * beside this file that fails when the installed version no longer behaves
 * as assumed.
 */
export { clientsById, handleWithSocket, routerListens, wrapFinishRegisterClient, wrapPublish, wrapRegisterClient, wrapSubscriptions, type ClientPublish, type RouterSubscriptions } from './aedes.js'
export { checkAedesInternals, EXPECTED_VERSIONS, installedVersions, POINTS, versionDrift, type Versions } from './check.js'
export {
  canDeliverNow, closeWhenStreamCloses, connackSent, deliverAtQoS, deliverNow, deliveries, isDrainTimeout, replaceDeliveries, replaceWaitForDrain, sentDisconnect, subscriptionsOf, turnOffDedupe, waitForDrain,
  type Deliver, type DrainCallback, type Subscription,
} from './client.js'
export { checkPacketLength, checkPackets, flushBeforeEachPacket, forgetConnect, plainBufferList, type LengthCheck, type PacketChecks, type ParsingPacket } from './mqtt-packet.js'
export type { Point, Probe } from './points.js'
