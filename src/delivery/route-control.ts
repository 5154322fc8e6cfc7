import type { FlushResult, RouteCache } from '../routes/route-cache.js'
import { RouteChangeError, type RouteTable, type RouteView } from '../routes/route-table.js'
import type { OutboxStore } from '../storage/outbox-store.js'
import { formatTarget } from './targets/index.js'

export { RouteChangeError }

/** A route as the admin API shows it: with how many events wait for it while it is held. */
export interface RouteStatus extends RouteView {
  heldEvents: number
}

/** The version of the routes a node holds; null when it has not said (a node that does not report it). */
export interface NodeRoutesVersion {
  id: string
  version: number | null
  alive: boolean
}

/** What a cluster adds: the flush asks every node, and each node's version is known. */
export interface ClusterRoutes {
  flush(route: string | null): Promise<FlushResult>
  versions(): Promise<NodeRoutesVersion[]>
}

export interface RouteControlDeps {
  routes: RouteTable
  cache: RouteCache
  nodeId: string
  /** Absent on a node on its own. */
  cluster?: ClusterRoutes | undefined
  outbox: OutboxStore
  /** The names of the functions in force, which a route may point at. */
  functionNames(): ReadonlySet<string>
  /** Looks for due deliveries now. */
  wake(): void
}

/**
 * Live control of routes: repoint, reweight, hold and release. Holding makes
 * a route's events wait in the outbox; releasing makes them due and delivers
 * that backlog in order, one at a time.
 */
export class RouteControl {
  constructor(private readonly deps: RouteControlDeps) {}

  async list(): Promise<RouteStatus[]> {
    return Promise.all(this.deps.routes.list().map((view) => this.#status(view)))
  }

  async get(name: string): Promise<RouteStatus | undefined> {
    const view = this.deps.routes.get(name)
    return view && this.#status(view)
  }

  /** Repoints or reweights a route (or adds one); throws a RouteChangeError for a definition it refuses. */
  async put(name: string, definition: unknown): Promise<RouteStatus> {
    const view = await this.deps.routes.put(name, definition, this.deps.functionNames())
    this.deps.wake()
    return this.#status(view)
  }

  async hold(name: string): Promise<RouteStatus> {
    return this.#status(await this.deps.routes.setHeld(name, true))
  }

  /** Releases a held route; resolves with how many waiting events are now on their way. */
  async release(name: string): Promise<RouteStatus & { released: number }> {
    const view = await this.deps.routes.setHeld(name, false)
    const released = await this.deps.outbox.release(formatTarget({ kind: 'route', name }))
    this.deps.wake()
    return { ...(await this.#status(view)), released }
  }

  /** The version of the routes this node holds, and each node's. */
  async versions(): Promise<{ version: number; nodes: NodeRoutesVersion[] }> {
    const version = this.deps.cache.version
    const self = { id: this.deps.nodeId, version, alive: true }
    if (!this.deps.cluster) return { version, nodes: [self] }
    const nodes = await this.deps.cluster.versions()
    // This node's own entry is as of its last heartbeat: its version now is known.
    return { version, nodes: nodes.map((n) => (n.id === self.id ? self : n)) }
  }

  /**
   * Makes every node (this one alone, outside a cluster) drop its cached
   * routes and read them again. A route named must exist here.
   */
  async flush(route: string | null): Promise<FlushResult> {
    if (route !== null && !this.deps.routes.has(route)) throw new RouteChangeError(`there is no route ${route}`, 404)
    if (this.deps.cluster) return this.deps.cluster.flush(route)
    const version = await this.deps.cache.read()
    return { route, confirmed: [{ id: this.deps.nodeId, version }], missing: [] }
  }

  async #status(view: RouteView): Promise<RouteStatus> {
    return { ...view, heldEvents: await this.deps.outbox.heldCount(formatTarget({ kind: 'route', name: view.name })) }
  }
}
