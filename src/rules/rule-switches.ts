import type { Logger } from 'pino'
import type { RuleSwitch } from '../storage/route-state-store.js'
import type { CompiledRule, RuleSet } from './rule-set.js'

/** A switch refused: there is no such rule in the config (HTTP 404). */
export class RuleSwitchError extends Error {
  readonly status = 404
}

/** Where the switches are saved and read: the route table, a cache of the route state store. */
export interface SwitchTable {
  onRules(watcher: (rules: readonly RuleSwitch[]) => void): void
  setRuleEnabled(name: string, enabled: boolean | null): Promise<void>
}

export interface RuleSwitchesDeps {
  engine: { use(rules: RuleSet): void }
  table: SwitchTable
  log: Logger
  /** Told when a switch changed the rules in force (the console's map is sent again then). */
  changed?: () => void
}

/**
 * Rules switched on and off while the broker runs, as AWS IoT's
 * EnableTopicRule and DisableTopicRule do. A switch wins over the rule's
 * `enabled` in the config until it is reset; it is saved with the routes'
 * changes (RouteStateStore, at the same version, told on the same notices),
 * so it outlives a restart and a config reload and is in force on every
 * node of a cluster once its notice arrives, or within routes.cacheTtl.
 *
 * The rules in force are the set built from the config with the switches
 * over it, made again (a new matcher, the same compiled rules and stats)
 * when either changes, and swapped into the engine whole.
 */
export class RuleSwitches {
  readonly #deps: RuleSwitchesDeps
  readonly #log: Logger
  #base: RuleSet | undefined
  #inForce: RuleSet | undefined
  #switches: ReadonlyMap<string, boolean> = new Map()

  constructor(deps: RuleSwitchesDeps) {
    this.#deps = deps
    this.#log = deps.log.child({ module: 'rules' })
    deps.table.onRules((rules) => this.#read(rules))
  }

  /** Puts in force the rules built from the config, with the saved switches over them; returns the set in force. */
  load(base: RuleSet): RuleSet {
    this.#base = base
    return this.#swap()
  }

  /**
   * Switches a rule of the config on or off, or back to the config's value
   * (null): in force here at once, then saved and told to the other nodes.
   * Resolves with the rule as now in force.
   */
  async set(name: string, enabled: boolean | null): Promise<CompiledRule> {
    if (!this.#base?.rules.some((r) => r.name === name)) throw new RuleSwitchError(`there is no rule ${name} in the config`)
    await this.#deps.table.setRuleEnabled(name, enabled)
    // A reload meanwhile may have dropped the rule from the config.
    const rule = this.#inForce?.rules.find((r) => r.name === name)
    if (!rule) throw new RuleSwitchError(`there is no rule ${name} in the config`)
    return rule
  }

  #read(rules: readonly RuleSwitch[]): void {
    const next = new Map(rules.map((r) => [r.name, r.enabled]))
    if (next.size === this.#switches.size && [...next].every(([name, enabled]) => this.#switches.get(name) === enabled)) return
    const before = this.#inForce
    this.#switches = next
    if (!this.#base) return
    const after = this.#swap()
    // One line per rule whose state changed, on every node (not per message).
    for (const rule of after.rules) {
      const was = before?.rules.find((r) => r.name === rule.name)
      if (was && (was.enabled !== rule.enabled || was.enabledSource !== rule.enabledSource)) {
        this.#log.info({ rule: rule.name, enabled: rule.enabled, source: rule.enabledSource }, rule.enabledSource === 'api' ? `rule ${rule.enabled ? 'enabled' : 'disabled'} through the admin API` : 'rule switch reset: the config\'s enabled stands')
      }
    }
    this.#deps.changed?.()
  }

  #swap(): RuleSet {
    const rules = this.#base!.withSwitches(this.#switches)
    this.#inForce = rules
    this.#deps.engine.use(rules)
    return rules
  }
}
