import { z } from 'zod'
import { actionKinds, type ActionKindName } from '../actions/registry.js'
import { SqlSyntaxError } from '../errors.js'
import { compileSql, type CompiledQuery } from '../sql/index.js'

const KIND_NAMES = Object.keys(actionKinds) as ActionKindName[]

export type ActionConfig = {
  [K in ActionKindName]: { kind: K; config: z.output<(typeof actionKinds)[K]['schema']> }
}[ActionKindName]

/** `- republish: { topic: ... }`: an object with exactly one key, the kind. */
export const actionSchema = z.record(z.string(), z.unknown(), { error: 'must be an action such as { republish: { topic: ... } }' })
  .transform((value, ctx): ActionConfig => {
    const keys = Object.keys(value)
    const kind = keys[0] as ActionKindName
    if (keys.length !== 1 || !KIND_NAMES.includes(kind)) {
      ctx.addIssue({ code: 'custom', message: `must have exactly one key, the kind of action: ${KIND_NAMES.join(', ')}${keys.length ? ` (found ${keys.join(', ')})` : ''}` })
      return z.NEVER
    }
    const parsed = actionKinds[kind].schema.safeParse(value[kind])
    if (!parsed.success) {
      for (const issue of parsed.error.issues) ctx.addIssue({ ...issue, path: [kind, ...issue.path] } as never)
      return z.NEVER
    }
    return { kind, config: parsed.data } as ActionConfig
  })

export interface RuleConfig {
  name: string
  description?: string | undefined
  sql: string
  query: CompiledQuery
  actions: ActionConfig[]
  errorAction?: ActionConfig | undefined
  enabled: boolean
}

const ruleSchema = z.strictObject({
  name: z.string({ error: 'must be the rule name' }).regex(/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/, 'must be letters, digits, _ . and - (up to 128), starting with a letter, digit or _'),
  description: z.string().optional(),
  sql: z.string({ error: 'must be an AWS IoT SQL statement' }).min(1, 'must not be empty'),
  actions: z.array(actionSchema, { error: 'must be a list of actions' }).default([]),
  errorAction: actionSchema.optional(),
  enabled: z.boolean({ error: 'must be true or false' }).default(true),
}).transform((rule, ctx): RuleConfig => {
  try {
    return { ...rule, query: compileSql(rule.sql) }
  } catch (err) {
    if (!(err instanceof SqlSyntaxError)) throw err
    // valueColumn lets the config loader point at the place inside the SQL.
    ctx.addIssue({ code: 'custom', path: ['sql'], message: `of rule ${rule.name} does not parse: ${err.message}`, params: { valueColumn: err.column } })
    return z.NEVER
  }
})

export const rulesSchema = z.array(ruleSchema, { error: 'must be a list of rules' }).default([]).superRefine((rules, ctx) => {
  const seen = new Set<string>()
  rules.forEach((rule, i) => {
    if (seen.has(rule.name)) ctx.addIssue({ code: 'custom', path: [i, 'name'], message: `repeats the rule name ${rule.name}; names must be unique` })
    seen.add(rule.name)
  })
})

export const rulesEngineSchema = z.strictObject({
  /** How many republishes may follow from one message before it is dropped as a loop. */
  maxHops: z.number({ error: 'must be a whole number' }).int().min(1).max(64).default(8),
  /**
   * Messages waiting for rule evaluation; a publisher waits when it is full.
   * Under sustained load a full queue only holds messages longer: past a few
   * milliseconds of work it adds latency, and garbage-collection work for
   * every message that outlives a collection, and no throughput.
   */
  queueSize: z.number({ error: 'must be a whole number' }).int().min(1).default(1_000),
  /** Actions running at once (HTTP calls, stores, republishes: one holds its place until the broker has delivered it). */
  concurrency: z.number({ error: 'must be a whole number' }).int().min(1).default(256),
}).prefault({})
