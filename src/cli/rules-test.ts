import { loadConfig } from '../config/load.js'
import { UsageError } from '../errors.js'
import { DRY_RUN_DEPS, dryRun } from '../rules/dry-run.js'
import { RuleSet } from '../rules/rule-set.js'
import { RuleStatsBook } from '../rules/rule-stats.js'
import { Registry } from 'prom-client'
import type { CliOptions } from './options.js'

/**
 * `switchyard rules test --config FILE --topic T --payload JSON [--client-id C]`:
 * prints, for each rule that matches, the SELECT output, the WHERE result and
 * each action with its templates filled in. Nothing is executed.
 */
export function rulesTestCommand(options: CliOptions): number {
  if (!options.config) throw new UsageError('rules test needs --config FILE')
  if (!options.topic) throw new UsageError('rules test needs --topic TOPIC')
  const config = loadConfig(options.config)
  const rules = RuleSet.build(config.rules, DRY_RUN_DEPS, new RuleStatsBook(new Registry()))
  const payload = Buffer.from(options.payload ?? '{}')
  const results = dryRun(rules, { topic: options.topic, payload, clientId: options['client-id'] })
  process.stdout.write(`${JSON.stringify({ topic: options.topic, results }, null, 2)}\n`)
  if (results.length === 0) process.stderr.write(`no rule matches ${options.topic}\n`)
  return 0
}
