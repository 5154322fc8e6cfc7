import type { RouteStateStore, RuleSwitch, SavedRoute } from '../storage/route-state-store.js'
import { checkRoutes } from './check.js'
import { routeSchema, type RouteConfig, type TargetConfig } from './schema.js'
import { WeightedPicker } from './weighted-picker.js'

export interface RouteView {
  name: string
  targets: TargetConfig[]
  fanout: boolean
  held: boolean
  /** Where the definition in force came from: the config file, or the admin API. */
  source: 'config' | 'api'
  updatedAt: number | null
}

/** A change the table refused; `status` is the HTTP status it maps to. */
export class RouteChangeError extends Error {
  constructor(message: string, readonly status: 400 | 404 | 409) {
    super(message)
  }
}

interface Live {
  config: RouteConfig
  source: 'config' | 'api'
  held: boolean
  updatedAt: number | null
  picker: WeightedPicker<TargetConfig> | undefined
}

/**
 * Named, indirect addresses: what a route points at can change while events
 * flow. Routes come from the config; the admin API can repoint, reweight,
 * hold and release them, and those changes are saved in the route state
 * store so that they survive a restart (and a config reload) until changed
 * again. The table is a cache of that store, at a version: read at start
 * (`refresh`), written through on every change, and read again when another
 * process changed the store (see RouteCache).
 *
 * The rule switches set through the admin API are saved in the same store,
 * at the same version: the table reads and writes them with the routes and
 * tells them to the one watcher given to `onRules` (see RuleSwitches).
 */
export class RouteTable {
  #live = new Map<string, Live>()
  /** What the store held when last read or written, by route name. */
  #saved = new Map<string, SavedRoute>()
  /** The store's version that #saved is as of. */
  #version = 0
  /** The rule switches as last read or written. */
  #rules: readonly RuleSwitch[] = []
  #onRules: ((rules: readonly RuleSwitch[]) => void) | undefined
  /** What the last load() was given: a refresh applies the store over it again. */
  #loaded: { fromConfig: Readonly<Record<string, RouteConfig>>; functions: ReadonlySet<string> } | undefined

  constructor(private readonly store: RouteStateStore) {}

  /** The version of the route state store the table holds. */
  get version(): number {
    return this.#version
  }

  /**
   * Reads the saved changes again and, once `load` has been called, applies
   * them over the config it was given; resolves with the version read. A
   * read older than the version held (it crossed a write of this table's) is
   * dropped. Throws when the result refers to something missing or forms a
   * cycle: the table and its version then stay as they were.
   */
  async refresh(): Promise<number> {
    const state = await this.store.read()
    if (state.version < this.#version) return this.#version
    // Told before the routes are applied: a route that cannot be applied
    // (it refers to something missing) keeps no rule switch out of force.
    this.#rules = state.rules
    this.#onRules?.(state.rules)
    const saved = new Map(state.routes.map((r): [string, SavedRoute] => [r.name, r]))
    if (this.#loaded) this.#live = this.#apply(this.#loaded.fromConfig, this.#loaded.functions, saved)
    this.#saved = saved
    this.#version = state.version
    return state.version
  }

  /**
   * Sets the routes from the config, with the changes saved from the admin
   * API on top. Throws when the result refers to something missing or forms
   * a cycle (the config itself was checked when it loaded).
   */
  load(fromConfig: Readonly<Record<string, RouteConfig>>, functions: ReadonlySet<string>): void {
    this.#live = this.#apply(fromConfig, functions, this.#saved)
    this.#loaded = { fromConfig, functions }
  }

  #apply(fromConfig: Readonly<Record<string, RouteConfig>>, functions: ReadonlySet<string>, saved: ReadonlyMap<string, SavedRoute>): Map<string, Live> {
    const next = new Map<string, Live>()
    for (const [name, config] of Object.entries(fromConfig)) {
      next.set(name, live(config, 'config', false, null))
    }
    for (const s of saved.values()) {
      const existing = next.get(s.name)
      if (s.definition !== null) {
        const parsed = routeSchema.safeParse(s.definition)
        if (parsed.success) next.set(s.name, live(parsed.data, 'api', s.held, s.updatedAt))
      } else if (existing) {
        existing.held = s.held
      }
    }
    const problems = checkRoutes(Object.fromEntries([...next].map(([n, l]) => [n, l.config])), functions)
    if (problems.length > 0) {
      const p = problems[0]!
      throw new RouteChangeError(`route ${p.path.join('.')} ${p.message}`, 409)
    }
    // A route whose definition did not change keeps its picker: the table is
    // read again every cacheTtl, and a picker made anew starts again with the
    // heaviest target (a 90/10 split read every 5 s with fewer than ten
    // events in between would never reach the 10).
    for (const [name, l] of next) {
      const before = this.#live.get(name)
      if (before?.picker && l.picker && JSON.stringify(before.config) === JSON.stringify(l.config)) l.picker = before.picker
    }
    return next
  }

  list(): RouteView[] {
    return [...this.#live].map(([name, l]) => view(name, l))
  }

  get(name: string): RouteView | undefined {
    const l = this.#live.get(name)
    return l && view(name, l)
  }

  has(name: string): boolean {
    return this.#live.has(name)
  }

  isHeld(name: string): boolean {
    return this.#live.get(name)?.held ?? false
  }

  /** Repoints or reweights a route (or adds one); validated, applied at once and saved. */
  async put(name: string, definition: unknown, functions: ReadonlySet<string>): Promise<RouteView> {
    const parsed = routeSchema.safeParse(definition)
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!
      const where = issue.path.length > 0 ? `${issue.path.join('.')} ` : ''
      throw new RouteChangeError(`route ${name}: ${where}${issue.message}`, 400)
    }
    const candidate = new Map(this.#live)
    const previous = candidate.get(name)
    const updatedAt = Date.now()
    candidate.set(name, live(parsed.data, 'api', previous?.held ?? false, updatedAt))
    const problems = checkRoutes(Object.fromEntries([...candidate].map(([n, l]) => [n, l.config])), functions)
    if (problems.length > 0) {
      const p = problems[0]!
      throw new RouteChangeError(`route ${p.path.join('.')} ${p.message}`, 409)
    }
    this.#wrote(await this.store.putDefinition(name, parsed.data, updatedAt))
    this.#saved.set(name, { name, definition: parsed.data, held: previous?.held ?? false, updatedAt })
    this.#live = candidate
    return view(name, candidate.get(name)!)
  }

  /** Holds or releases a route; events for a held route wait in the outbox. */
  async setHeld(name: string, held: boolean): Promise<RouteView> {
    const l = this.#live.get(name)
    if (!l) throw new RouteChangeError(`there is no route ${name}`, 404)
    this.#wrote(await this.store.setHeld(name, held, Date.now()))
    const saved = this.#saved.get(name)
    this.#saved.set(name, saved ? { ...saved, held } : { name, definition: null, held, updatedAt: null })
    l.held = held
    return view(name, l)
  }

  /** Tells `watcher` the rule switches each time they are read or written; one watcher at a time. */
  onRules(watcher: (rules: readonly RuleSwitch[]) => void): void {
    this.#onRules = watcher
    watcher(this.#rules)
  }

  /** Saves a rule's switch, or clears it with null, and tells the watcher. */
  async setRuleEnabled(name: string, enabled: boolean | null): Promise<void> {
    const at = Date.now()
    this.#wrote(await this.store.setRuleEnabled(name, enabled, at))
    const others = this.#rules.filter((r) => r.name !== name)
    this.#rules = enabled === null ? others : [...others, { name, enabled, updatedAt: at }]
    this.#onRules?.(this.#rules)
  }

  /**
   * After this table's own write: the version it made is the one held only
   * if nothing came in between (another process' change, unread). Else the
   * version stays, and the next notice or read brings the table up to it.
   */
  #wrote(version: number): void {
    if (version === this.#version + 1) this.#version = version
  }

  /** Where the next event for this route goes: every target for a fanout, else one chosen by weight. */
  pick(name: string): TargetConfig[] | undefined {
    const l = this.#live.get(name)
    if (!l) return undefined
    return l.picker ? [l.picker.pick()] : l.config.targets
  }

  retryOf(name: string): RouteConfig['retry'] {
    return this.#live.get(name)?.config.retry
  }
}

function live(config: RouteConfig, source: 'config' | 'api', held: boolean, updatedAt: number | null): Live {
  const picker = config.fanout ? undefined : new WeightedPicker(config.targets, config.targets.map((t) => t.weight))
  return { config, source, held, updatedAt, picker }
}

function view(name: string, l: Live): RouteView {
  return { name, targets: l.config.targets, fanout: l.config.fanout, held: l.held, source: l.source, updatedAt: l.updatedAt }
}
