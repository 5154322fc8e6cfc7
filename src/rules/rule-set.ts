import { Qlobber } from 'qlobber'
import type { Action, ActionDeps } from '../actions/action.js'
import { actionKinds } from '../actions/registry.js'
import type { CompiledQuery } from '../sql/index.js'
import type { ActionConfig, RuleConfig } from './schema.js'
import type { RuleStats, RuleStatsBook } from './rule-stats.js'

export interface CompiledRule {
  readonly name: string
  readonly description: string | undefined
  readonly sql: string
  readonly from: string
  readonly query: CompiledQuery
  readonly actions: readonly Action[]
  readonly errorAction: Action | undefined
  readonly enabled: boolean
  /** Where `enabled` comes from: the config, or a switch set through the admin API (see RuleSwitches). */
  readonly enabledSource: 'config' | 'api'
  /** True when an action records durable deliveries (see RulesEngine.beforeAck). */
  readonly durable: boolean
  readonly stats: RuleStats
}

/**
 * A complete, immutable set of compiled rules with one topic matcher for all
 * of them: the cost of matching a message grows with the rules that match,
 * not with the rules that do not. A reload builds a new set and swaps it in.
 */
export class RuleSet {
  readonly rules: readonly CompiledRule[]
  readonly #matcher: Qlobber
  readonly #enabled: number
  /**
   * What `match` found for recent topics. A message is matched up to three
   * times (before a QoS 1 PUBACK, when published, and its rules' republishes
   * in turn), and most applications publish to a set of topics that repeats.
   * Cleared whole when full, so that it stays bounded however many topics
   * there are.
   */
  readonly #matched = new Map<string, readonly CompiledRule[]>()

  private constructor(rules: CompiledRule[]) {
    this.rules = rules
    this.#matcher = new Qlobber({ separator: '/', wildcard_one: '+', wildcard_some: '#', match_empty_levels: true })
    rules.forEach((rule, i) => {
      if (rule.enabled) this.#matcher.add(rule.from, i)
    })
    this.#enabled = rules.filter((r) => r.enabled).length
  }

  static empty(): RuleSet {
    return new RuleSet([])
  }

  static build(configs: readonly RuleConfig[], deps: ActionDeps, stats: RuleStatsBook): RuleSet {
    const rules = configs.map((config): CompiledRule => {
      const ruleStats = stats.for(config.name)
      ruleStats.shape(config.actions.map((a) => a.kind), config.errorAction?.kind)
      const actions = config.actions.map((a) => buildAction(a, deps))
      return {
        name: config.name,
        description: config.description,
        sql: config.sql,
        from: config.query.from,
        query: config.query,
        actions,
        durable: actions.some((a) => a.durable === true),
        errorAction: config.errorAction ? buildAction(config.errorAction, deps) : undefined,
        enabled: config.enabled,
        enabledSource: 'config',
        stats: ruleStats,
      }
    })
    stats.keepOnly(new Set(configs.map((c) => c.name)))
    return new RuleSet(rules)
  }

  /**
   * This set (built from the config) with rules switched on or off by name:
   * the same compiled rules and stats, a new matcher. Names it does not
   * hold are left out.
   */
  withSwitches(switches: ReadonlyMap<string, boolean>): RuleSet {
    if (switches.size === 0) return this
    return new RuleSet(this.rules.map((rule) => {
      const enabled = switches.get(rule.name)
      return enabled === undefined ? rule : { ...rule, enabled, enabledSource: 'api' }
    }))
  }

  get size(): number {
    return this.#enabled
  }

  /** The enabled rules whose FROM matches `topic`, in config order; shared between calls, never to be changed. */
  match(topic: string): readonly CompiledRule[] {
    if (this.#enabled === 0) return NONE
    let rules = this.#matched.get(topic)
    if (rules === undefined) {
      if (this.#matched.size >= MATCH_CACHE_SIZE) this.#matched.clear()
      rules = this.#find(topic)
      this.#matched.set(topic, rules)
    }
    return rules
  }

  #find(topic: string): readonly CompiledRule[] {
    const found = this.#matcher.match(topic) as number[]
    if (found.length === 0) return NONE
    // [MQTT-4.7.2-1] a FROM starting with a wildcard does not match '$' topics.
    const dollar = topic.charCodeAt(0) === 36
    const out: CompiledRule[] = []
    for (const i of found.length > 1 ? found.sort((a, b) => a - b) : found) {
      const rule = this.rules[i]!
      if (dollar && isWildcardFirst(rule.from)) continue
      out.push(rule)
    }
    return out.length === 0 ? NONE : Object.freeze(out)
  }
}

const NONE: readonly CompiledRule[] = Object.freeze([])
const MATCH_CACHE_SIZE = 10_000

function buildAction(action: ActionConfig, deps: ActionDeps): Action {
  return (actionKinds[action.kind].create as (config: unknown, deps: ActionDeps) => Action)(action.config, deps)
}

function isWildcardFirst(filter: string): boolean {
  const c = filter.charCodeAt(0)
  return c === 43 || c === 35
}
