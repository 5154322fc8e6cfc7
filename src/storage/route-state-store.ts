/** What is saved of one route: a definition set through the admin API, and its hold flag. */
export interface SavedRoute {
  name: string
  /** The definition put through the admin API (validated by the route table); null when the config's stands. */
  definition: unknown
  held: boolean
  /** When the definition was put; null when there is none. */
  updatedAt: number | null
}

/** Every saved route, at a version. */
export interface RouteState {
  /** Grows with every change: a reader that holds an older one is out of date. */
  version: number
  routes: SavedRoute[]
}

/**
 * The changes made to routes through the admin API (repoint, reweight, hold,
 * release): kept so that they outlive a restart and a config reload, and
 * shared by every process that serves the routes. The route table caches
 * what it read and re-reads when the version moves.
 */
export interface RouteStateStore {
  read(): Promise<RouteState>
  /** The version now, cheaply. */
  version(): Promise<number>
  /** Saves a route's definition (any hold flag stays); resolves with the new version. */
  putDefinition(name: string, definition: unknown, at: number): Promise<number>
  /** Saves a route's hold flag (its definition stays); resolves with the new version. */
  setHeld(name: string, held: boolean, at: number): Promise<number>
}
