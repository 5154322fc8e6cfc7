/** What is saved of one route: a definition set through the admin API, and its hold flag. */
export interface SavedRoute {
  name: string
  /** The definition put through the admin API (validated by the route table); null when the config's stands. */
  definition: unknown
  held: boolean
  /** When the definition was put; null when there is none. */
  updatedAt: number | null
}

/**
 * A rule switched on or off through the admin API: it wins over the rule's
 * `enabled` in the config until it is cleared.
 */
export interface RuleSwitch {
  name: string
  enabled: boolean
  /** When it was set. */
  updatedAt: number
}

/** Every saved route and rule switch, at a version. */
export interface RouteState {
  /** Grows with every change (to a route or a rule switch): a reader that holds an older one is out of date. */
  version: number
  routes: SavedRoute[]
  rules: RuleSwitch[]
}

/**
 * The changes made to routes (repoint, reweight, hold, release) and rules
 * (enable, disable) through the admin API: kept so that they outlive a
 * restart and a config reload, and shared by every process that serves the
 * routes and runs the rules. The route table caches what it read and
 * re-reads when the version moves.
 */
export interface RouteStateStore {
  read(): Promise<RouteState>
  /** The version now, cheaply. */
  version(): Promise<number>
  /** Saves a route's definition (any hold flag stays); resolves with the new version. */
  putDefinition(name: string, definition: unknown, at: number): Promise<number>
  /** Saves a route's hold flag (its definition stays); resolves with the new version. */
  setHeld(name: string, held: boolean, at: number): Promise<number>
  /** Saves a rule's switch, or clears it with null (the config's `enabled` stands again); resolves with the new version. */
  setRuleEnabled(name: string, enabled: boolean | null, at: number): Promise<number>
}
