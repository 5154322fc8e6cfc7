import { RouteChangeError, type RouteTable, type RouteView } from '../routes/route-table.js'
import type { OutboxStore } from '../storage/outbox-store.js'
import { formatTarget } from './targets/index.js'

export { RouteChangeError }

/** A route as the admin API shows it: with how many events wait for it while it is held. */
export interface RouteStatus extends RouteView {
  heldEvents: number
}

export interface RouteControlDeps {
  routes: RouteTable
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

  async #status(view: RouteView): Promise<RouteStatus> {
    return { ...view, heldEvents: await this.deps.outbox.heldCount(formatTarget({ kind: 'route', name: view.name })) }
  }
}
