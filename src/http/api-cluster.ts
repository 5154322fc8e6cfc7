import type { FastifyInstance } from 'fastify'

/** A node as GET /api/cluster lists it. */
export interface ClusterNodeView {
  id: string
  address: { host: string; mqtt?: number; http?: number; mqtts?: number; https?: number }
  clients: number
  /** The node's last heartbeat (ISO 8601). */
  heartbeat: string
  /** Milliseconds since that heartbeat. */
  silentFor: number
  alive: boolean
  /** Whether it is the node that answered. */
  self: boolean
  brokerId: string
  startedAt: string
  /** The version of the routes the node held at its last heartbeat. */
  routesVersion?: number
}

export interface ClusterView {
  /** False for one node on its own (no `cluster` in its config). */
  cluster: boolean
  /** The node that answered. */
  node: string
  nodes: ClusterNodeView[]
}

/** GET /api/cluster: the nodes this node sees, with their clients and last heartbeat. */
export function clusterApi(view: () => Promise<ClusterView>) {
  return async (app: FastifyInstance) => {
    app.get('/cluster', async () => view())
  }
}
