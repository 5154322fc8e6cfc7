import { z } from 'zod'
import { duration } from '../duration.js'

/**
 * `cluster:` turns cluster mode on: the node shares its MQTT sessions,
 * retained messages, wills and message traffic with every other node on the
 * same Redis (and key prefix). Without it, Switchyard is one process on
 * SQLite.
 */
export const clusterSchema = z.strictObject({
  /** The Redis every node shares: redis://[user:password@]host:port[/db], or rediss:// for TLS. */
  redis: z.string({ error: 'must be a Redis URL such as redis://127.0.0.1:6379' })
    .regex(/^rediss?:\/\/[^\s]+$/, 'must be a Redis URL such as redis://127.0.0.1:6379 (or rediss:// for TLS)'),
  /** This node's name in the cluster; the host name and process id unless given. Unique among running nodes. */
  nodeId: z.string({ error: 'must be a string' }).regex(/^[A-Za-z0-9._-]{1,64}$/, 'must be 1 to 64 letters, digits, dots, dashes or underscores').optional(),
  /** Prefixes every Redis key and channel, so that one Redis can hold several clusters. */
  keyPrefix: z.string({ error: 'must be a string' }).regex(/^[A-Za-z0-9._:-]{1,64}$/, 'must be 1 to 64 letters, digits, dots, colons, dashes or underscores').default('switchyard:'),
  /** How often a node tells the others it is alive. */
  heartbeat: duration.refine((ms) => ms >= 100, 'must be at least 100ms').default(1000),
  /**
   * A node silent for this long is dead: another node publishes its clients'
   * wills and disconnected events, once. A node cut off from Redis for this
   * long closes its client connections, which reconnect to the others.
   */
  nodeTimeout: duration.refine((ms) => ms >= 1000, 'must be at least 1s').default(10_000),
  /**
   * Messages kept in the Redis stream that carries traffic between nodes: a
   * node cut off from Redis catches up on what it missed, up to this many.
   */
  streamLength: z.number({ error: 'must be a whole number' }).int().min(1000, 'must be at least 1000').default(100_000),
}).refine((c) => c.nodeTimeout >= 3 * c.heartbeat, { message: 'nodeTimeout must be at least three heartbeats', path: ['nodeTimeout'] })

export type ClusterConfig = z.output<typeof clusterSchema>
