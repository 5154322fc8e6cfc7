/**
 * The storage interfaces: what Switchyard keeps, as the rest of the code
 * sees it. The embedded default implements them on one SQLite file
 * (backends/sqlite.ts); another backend implements the same interfaces and
 * passes the same contract suites (storage/contract/).
 */
import type { EventLog } from './event-log.js'
import type { OutboxStore } from './outbox-store.js'
import type { RouteStateStore } from './route-state-store.js'
import type { SessionOwnerStore } from './session-owner-store.js'
import type { SessionStore } from './session-store.js'

export type * from './event-log.js'
export type * from './outbox-store.js'
export type * from './route-state-store.js'
export type * from './session-owner-store.js'
export type * from './session-store.js'

/** One backend's stores, opened together and closed together. */
export interface Storage {
  readonly sessions: SessionStore
  readonly outbox: OutboxStore
  readonly events: EventLog
  readonly routes: RouteStateStore
  readonly owners: SessionOwnerStore
  /** Makes what waits durable and closes, once nothing uses the stores any more. */
  close(): Promise<void>
}
