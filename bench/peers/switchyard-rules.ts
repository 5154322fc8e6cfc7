/**
 * Rule sets for the benchmark, in the config's `rules:` format. Matching
 * rule i listens on publisher i's topic (`bench/<i>/x`), so in the fan-out
 * scenario every message fires exactly one rule; its republish goes to
 * `bench-out/...`, which no benchmark subscriber receives, so it adds work
 * to the broker but no deliveries to count. Non-matching rules listen on
 * topics that no benchmark client uses.
 */

export interface BenchRule {
  name: string
  sql: string
  actions: Array<{ republish: { topic: string; qos: 0 | 1 } }>
}

export interface RuleCounts {
  matching: number
  nonMatching: number
}

export function benchRules({ matching, nonMatching }: RuleCounts): BenchRule[] {
  const rules: BenchRule[] = []
  for (let i = 0; i < matching; i++) {
    rules.push({
      name: `bench-match-${i}`,
      sql: `SELECT * FROM 'bench/${i}/x'`,
      actions: [{ republish: { topic: `bench-out/${i}`, qos: 0 } }],
    })
  }
  for (let i = 0; i < nonMatching; i++) {
    rules.push({
      name: `bench-idle-${i}`,
      sql: `SELECT * FROM 'bench/rule/${i}/#'`,
      actions: [{ republish: { topic: `bench-out/rule/${i}`, qos: 0 } }],
    })
  }
  return rules
}
