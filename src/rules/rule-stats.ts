import { Counter, type Registry } from 'prom-client'

export interface ActionStats {
  kind: string
  success: number
  failure: number
}

/** What a rule has done since the broker started; kept by name across reloads. */
export class RuleStats {
  matched = 0
  passed = 0
  failed = 0
  /** Messages a republish of this rule would have sent past `maxHops`. */
  loops = 0
  actions: ActionStats[] = []
  errorAction: ActionStats | undefined

  /** Matches the action list to a (re)loaded rule; counts of an action at the same place and kind carry over. */
  shape(kinds: string[], errorKind: string | undefined): void {
    this.actions = kinds.map((kind, i) => (this.actions[i]?.kind === kind ? this.actions[i]! : { kind, success: 0, failure: 0 }))
    this.errorAction = errorKind === undefined ? undefined : this.errorAction?.kind === errorKind ? this.errorAction : { kind: errorKind, success: 0, failure: 0 }
  }

  toJSON() {
    return { matched: this.matched, passed: this.passed, failed: this.failed, loops: this.loops, actions: this.actions, errorAction: this.errorAction ?? null }
  }
}

/**
 * Every rule's stats, and their Prometheus view. Counters are read from the
 * stats when scraped, so counting costs a field increment per message.
 */
export class RuleStatsBook {
  readonly #byName = new Map<string, RuleStats>()

  constructor(registry: Registry) {
    const book = this
    const perRule = (name: string, help: string, read: (s: RuleStats) => number) =>
      new Counter({
        name,
        help,
        labelNames: ['rule'],
        registers: [registry],
        collect() {
          this.reset()
          for (const [rule, stats] of book.#byName) this.inc({ rule }, read(stats))
        },
      })
    perRule('switchyard_rule_matched_total', 'Messages whose topic matched the rule', (s) => s.matched)
    perRule('switchyard_rule_passed_total', "Messages that passed the rule's WHERE", (s) => s.passed)
    perRule('switchyard_rule_failed_total', 'Messages the rule could not evaluate', (s) => s.failed)
    perRule('switchyard_rule_loops_total', 'Republishes dropped by the loop guard', (s) => s.loops)
    const perAction = (name: string, help: string, read: (a: ActionStats) => number) =>
      new Counter({
        name,
        help,
        labelNames: ['rule', 'action', 'kind'],
        registers: [registry],
        collect() {
          this.reset()
          for (const [rule, stats] of book.#byName) {
            stats.actions.forEach((a, i) => this.inc({ rule, action: String(i), kind: a.kind }, read(a)))
            if (stats.errorAction) this.inc({ rule, action: 'error', kind: stats.errorAction.kind }, read(stats.errorAction))
          }
        },
      })
    perAction('switchyard_rule_action_success_total', 'Actions that succeeded', (a) => a.success)
    perAction('switchyard_rule_action_failure_total', 'Actions that failed', (a) => a.failure)
  }

  for(name: string): RuleStats {
    let stats = this.#byName.get(name)
    if (!stats) {
      stats = new RuleStats()
      this.#byName.set(name, stats)
    }
    return stats
  }

  /** A republish or delivery of `rule` was dropped by the loop guard (a rule no longer configured is not counted). */
  countLoop(rule: string): void {
    const stats = this.#byName.get(rule)
    if (stats) stats.loops++
  }

  /** Forgets the rules that are no longer configured. */
  keepOnly(names: Set<string>): void {
    for (const name of this.#byName.keys()) if (!names.has(name)) this.#byName.delete(name)
  }
}
