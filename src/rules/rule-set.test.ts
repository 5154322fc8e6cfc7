import { Registry } from 'prom-client'
import { expect, it } from 'vitest'
import { topicMatches } from '../topics/match.js'
import { DRY_RUN_DEPS } from './dry-run.js'
import { RuleSet } from './rule-set.js'
import { RuleStatsBook } from './rule-stats.js'
import { rulesSchema } from './schema.js'

function ruleSet(filters: string[]): RuleSet {
  const configs = rulesSchema.parse(filters.map((filter, i) => ({ name: `r${i}`, sql: `SELECT * FROM '${filter}'` })))
  return RuleSet.build(configs, DRY_RUN_DEPS, new RuleStatsBook(new Registry()))
}

it('answers as the reference matcher does for many more topics than it remembers, asked again and again', () => {
  const filters = ['a/+/c', 'a/#', '#', '+/b/+', 'x/y', '+', 'a/b/c/#']
  const rules = ruleSet(filters)
  const levels = ['a', 'b', 'c', 'x', 'y', '$s', '']
  // 25,000 topics of 1 to 4 levels (15,000 different ones), from a fixed seed: the remembered answers are dropped again and again.
  let seed = 7
  const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31
  const topics = Array.from({ length: 25_000 }, (_, n) => {
    const depth = 1 + Math.floor(random() * 4)
    return [...Array.from({ length: depth - 1 }, () => levels[Math.floor(random() * levels.length)]!), String(n % 15_000)].join('/')
  })
  expect(new Set(topics).size).toBeGreaterThan(10_000)
  for (const topic of [...topics, ...topics.reverse()]) {
    const expected = filters.map((f, i) => (topicMatches(f, topic) ? `r${i}` : undefined)).filter(Boolean)
    expect(rules.match(topic).map((r) => r.name), topic).toEqual(expected)
  }
})

it('hands out answers that cannot be changed by the caller', () => {
  const rules = ruleSet(['a/#'])
  expect(Object.isFrozen(rules.match('a/b'))).toBe(true)
  expect(Object.isFrozen(rules.match('nothing'))).toBe(true)
  expect(rules.match('a/b')).toBe(rules.match('a/b'))
})
