import { afterEach, beforeEach, expect, it, vi } from 'vitest'
import type { CompiledRule } from '../rules/rule-set.js'
import { RuleStats } from '../rules/rule-stats.js'
import { FlowMap, type FlowSources } from './flow-map.js'

function rule(name: string, stats: RuleStats): CompiledRule {
  return { name, from: `in/${name}`, enabled: true, enabledSource: 'config', sql: `SELECT * FROM 'in/${name}'`, stats } as unknown as CompiledRule
}

function mapOf(rules: () => readonly CompiledRule[]): FlowMap {
  const sources = {
    rules,
    ruleConfigs: () => [],
    routes: async () => [],
    functions: () => [],
    deliveries: { all: () => new Map() },
  } as unknown as FlowSources
  return new FlowMap(sources)
}

const rateOf = async (map: FlowMap, from: string, to: string) => (await map.build()).edges.find((e) => e.from === from && e.to === to)?.rate

beforeEach(() => {
  vi.useFakeTimers()
  vi.setSystemTime(0)
})
afterEach(() => {
  vi.useRealTimers()
})

it('rates each rule and action from the snapshots a second apart', async () => {
  const a = new RuleStats()
  a.shape(['republish', 'store'], undefined)
  const b = new RuleStats()
  b.shape(['invoke'], 'republish')
  const rules = [rule('a', a), rule('b', b)]
  const map = mapOf(() => rules)
  map.sample()
  vi.setSystemTime(2000)
  a.matched += 10
  a.passed += 6
  b.matched += 4
  b.errorAction!.success += 2
  map.sample()
  expect(await rateOf(map, 'filter:in/a', 'rule:a')).toBe(5)
  expect(await rateOf(map, 'rule:a', 'action:a/1')).toBe(3)
  expect(await rateOf(map, 'filter:in/b', 'rule:b')).toBe(2)
  expect(await rateOf(map, 'rule:b', 'action:b/error')).toBe(1)
})

it('keeps each counter in its place when a reload reshapes a rule it keeps', async () => {
  const a = new RuleStats()
  a.shape(['republish'], undefined)
  const b = new RuleStats()
  b.shape(['republish'], undefined)
  const rules = [rule('a', a), rule('b', b)]
  const map = mapOf(() => rules)
  map.sample()
  // The same rule set, with one more action in the first rule: the second rule's counters move.
  a.shape(['republish', 'store'], 'republish')
  vi.setSystemTime(1000)
  b.matched += 7
  b.passed += 3
  map.sample()
  expect(await rateOf(map, 'filter:in/a', 'rule:a')).toBe(0)
  expect(await rateOf(map, 'filter:in/b', 'rule:b')).toBe(7)
  expect(await rateOf(map, 'rule:b', 'action:b/0')).toBe(3)
})
