import type { Database } from 'better-sqlite3'
import { StoreError } from '../errors.js'
import { storageCode } from '../store/store-health.js'

/**
 * The session store's schema, one step per version. A released step is never
 * edited: a change is a new step at the end. Every table is prefixed `mqtt_`
 * so the store can share a database file with other stores.
 *
 * Payload columns are typed ANY: a Buffer payload is stored as a BLOB and a
 * string payload as TEXT, and each comes back as what it was.
 */
const STEPS: readonly string[] = [
  `
  CREATE TABLE IF NOT EXISTS mqtt_retained (
    topic TEXT PRIMARY KEY,
    payload ANY,
    packet BLOB NOT NULL
  ) STRICT;

  CREATE TABLE IF NOT EXISTS mqtt_subscriptions (
    client_id TEXT NOT NULL,
    topic TEXT NOT NULL,
    qos INTEGER NOT NULL,
    rh INTEGER,
    rap INTEGER,
    nl INTEGER,
    subscription_identifier INTEGER,
    PRIMARY KEY (client_id, topic)
  ) STRICT;

  -- seq is the queue order; AUTOINCREMENT so a seq is never reused, which
  -- outgoingStream relies on to stop at the messages queued before it began.
  CREATE TABLE IF NOT EXISTS mqtt_outgoing (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    client_id TEXT NOT NULL,
    broker_id TEXT,
    broker_counter INTEGER,
    message_id INTEGER,
    payload ANY,
    packet BLOB NOT NULL
  ) STRICT;
  CREATE INDEX IF NOT EXISTS mqtt_outgoing_by_client ON mqtt_outgoing (client_id, seq);
  CREATE INDEX IF NOT EXISTS mqtt_outgoing_by_message_id ON mqtt_outgoing (client_id, message_id);
  CREATE INDEX IF NOT EXISTS mqtt_outgoing_by_broker ON mqtt_outgoing (client_id, broker_id, broker_counter);

  CREATE TABLE IF NOT EXISTS mqtt_incoming (
    client_id TEXT NOT NULL,
    message_id INTEGER NOT NULL,
    payload ANY,
    packet BLOB NOT NULL,
    PRIMARY KEY (client_id, message_id)
  ) STRICT;

  CREATE TABLE IF NOT EXISTS mqtt_wills (
    client_id TEXT PRIMARY KEY,
    broker_id TEXT NOT NULL,
    payload ANY,
    packet BLOB NOT NULL
  ) STRICT;
  `,
  // The storage quotas: the size of each retained message and queued packet
  // as stored (payload and fields), the client that set each retained
  // message, and the owner of each persistent session.
  `
  ALTER TABLE mqtt_retained ADD COLUMN client_id TEXT;
  ALTER TABLE mqtt_retained ADD COLUMN bytes INTEGER NOT NULL DEFAULT 0;
  UPDATE mqtt_retained SET bytes = coalesce(length(CAST(payload AS BLOB)), 0) + length(packet);

  ALTER TABLE mqtt_outgoing ADD COLUMN bytes INTEGER NOT NULL DEFAULT 0;
  UPDATE mqtt_outgoing SET bytes = coalesce(length(CAST(payload AS BLOB)), 0) + length(packet);

  CREATE TABLE IF NOT EXISTS mqtt_sessions (
    client_id TEXT PRIMARY KEY,
    owner TEXT NOT NULL
  ) STRICT;
  CREATE INDEX IF NOT EXISTS mqtt_sessions_by_owner ON mqtt_sessions (owner);
  `,
  // limits.sessionExpiry: since when each persistent session has waited for
  // its client, and the connection whose end began the wait (see
  // session-presence.ts). A session whose client is connected has no row.
  `
  CREATE TABLE IF NOT EXISTS mqtt_session_marks (
    client_id TEXT PRIMARY KEY,
    disconnected_at INTEGER NOT NULL,
    connection TEXT
  ) STRICT;
  `,
]

/** The schema version this code writes. */
export const SCHEMA_VERSION = STEPS.length

/**
 * Brings the store's tables up to date, each step in its own transaction. The
 * version lives in a table of its own rather than in `PRAGMA user_version`,
 * which belongs to the whole file and so to whichever store shares it. A
 * database that cannot be written (full, read-only) is a StoreError that
 * says so, when a step is due.
 */
export function migrate(db: Database): void {
  try {
    applySteps(db)
  } catch (err) {
    if (!storageCode(err)) throw err
    throw new StoreError(`cannot create the MQTT session tables: the database cannot be written (${(err as Error).message})`, { cause: err })
  }
}

function applySteps(db: Database): void {
  db.exec(`CREATE TABLE IF NOT EXISTS mqtt_schema (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    version INTEGER NOT NULL
  ) STRICT`)
  const row = db.prepare<[], { version: number }>('SELECT version FROM mqtt_schema WHERE id = 1').get()
  const current = row?.version ?? 0
  if (current > SCHEMA_VERSION) {
    throw new StoreError(
      `the MQTT session tables are at schema version ${current}, newer than this version of Switchyard understands (${SCHEMA_VERSION}); upgrade Switchyard or use another database file`,
    )
  }
  const setVersion = db.prepare<[number]>(
    'INSERT INTO mqtt_schema (id, version) VALUES (1, ?) ON CONFLICT (id) DO UPDATE SET version = excluded.version',
  )
  for (let version = current + 1; version <= SCHEMA_VERSION; version++) {
    db.transaction(() => {
      db.exec(STEPS[version - 1]!)
      setVersion.run(version)
    })()
  }
}
