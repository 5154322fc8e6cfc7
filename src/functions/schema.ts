import { z } from 'zod'
import { byteSize } from '../byte-size.js'
import { duration } from '../duration.js'
import { retrySchema } from '../retry.js'

const NAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/

// Like AWS Lambda's ceiling. It also keeps every timeout far below what
// setTimeout can hold (about 24.8 days), past which Node fires at once.
const MAX_TIMEOUT = 15 * 60_000

// A POSIX name, as a shell would take it.
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/

/**
 * Memory a local function may hold outside the V8 heap. Twice the 64 MB of
 * growth at which V8 collects garbage for external memory
 * (kExternalAllocationSoftLimit): a function that drops 8 MB Buffers as it
 * goes was measured to peak near 70 MB before they were collected, and must
 * not be mistaken for one that keeps them.
 */
const MAX_EXTERNAL_MEMORY = 128 * 1024 ** 2

const timeout = (fallback: number) => duration
  .refine((ms) => ms > 0, 'must be longer than 0 ms')
  .refine((ms) => ms <= MAX_TIMEOUT, 'must be at most 15m')
  .default(fallback)

const moduleFunctionSchema = z.strictObject({
  /** A JavaScript module whose default export is `async (event, ctx) => result`; relative to the config file. */
  module: z.string({ error: 'must be the path of a JavaScript module' }).min(1, 'must be the path of a JavaScript module'),
  timeout: timeout(3000),
  retry: retrySchema.optional(),
  /**
   * Whether `ctx.publish` may publish to `$` topics, the broker's own (see
   * topics/system-topics.ts). Off by default, as for a republish.
   */
  publishSystemTopics: z.boolean({ error: 'must be true or false' }).default(false),
  /**
   * The function's `process.env`, with NODE_ENV: the broker's own
   * environment (its credentials among it) is not passed on.
   */
  env: z.record(
    z.string().regex(ENV_NAME),
    z.union([z.string(), z.number(), z.boolean()], { error: 'must be a string' }).transform(String),
    {
      // The record's own message would otherwise stand for a bad name too.
      error: (issue) => issue.code === 'invalid_key'
        ? 'is not a variable name: use letters, digits and _, not starting with a digit'
        : 'must map variable names to values',
    },
  ).default({}),
  /**
   * Buffers and ArrayBuffers the function's worker may hold outside the V8
   * heap, which `resourceLimits` does not cap; past it the invocation fails
   * and the worker is replaced.
   */
  maxExternalMemory: byteSize.pipe(z.number().min(16 * 1024 ** 2, 'must be at least 16MB')).default(MAX_EXTERNAL_MEMORY),
  /**
   * How many of its invocations one worker thread may run at once (as
   * Cloud Run's concurrency). One by default: an invocation that overruns
   * its timeout is stopped with its thread, and the others of the same
   * function running beside it fail with it (retryably). More lets a
   * function that waits (on ctx.publish, on I/O) serve thousands a second.
   */
  concurrency: z.number({ error: 'must be a whole number from 1 to 1000' }).int('must be a whole number from 1 to 1000').min(1, 'must be a whole number from 1 to 1000').max(1000, 'must be a whole number from 1 to 1000').default(1),
})

const httpFunctionSchema = z.strictObject({
  /** Receives `POST { event, context }`; a 2xx answer's JSON body is the result. */
  url: z.string({ error: 'must be an http:// or https:// URL' }).refine(isHttpUrl, 'must be an http:// or https:// URL'),
  timeout: timeout(5000),
  headers: z.record(z.string(), z.string({ error: 'must be a string' }), { error: 'must map header names to strings' }).default({}),
  retry: retrySchema.optional(),
})

export type ModuleFunctionConfig = z.output<typeof moduleFunctionSchema>
export type HttpFunctionConfig = z.output<typeof httpFunctionSchema>
export type FunctionConfig = ModuleFunctionConfig | HttpFunctionConfig

/**
 * One function: local code (`module`) or an HTTP endpoint (`url`). The two
 * shapes are told apart by hand rather than by `z.union`, so that a mistake
 * inside one (a bad timeout, an unknown key) is reported as itself and not
 * as "matches neither".
 */
export const functionSchema = z.record(z.string(), z.unknown(), {
  error: 'must be a function such as { module: ./fn.js } or { url: http://host/path }',
}).transform((value, ctx): FunctionConfig => {
  const hasModule = value.module !== undefined
  if (hasModule === (value.url !== undefined)) {
    ctx.addIssue({ code: 'custom', message: 'must have either module (local code) or url (an HTTP function)' })
    return z.NEVER
  }
  const [schema, kind] = hasModule ? [moduleFunctionSchema, 'a local function'] : [httpFunctionSchema, 'an HTTP function']
  const parsed = schema.safeParse(value)
  if (parsed.success) return parsed.data
  for (const issue of parsed.error.issues) {
    if (issue.code === 'unrecognized_keys') {
      // Name the keys this shape accepts: the loader cannot find them through the transform.
      for (const key of issue.keys) {
        ctx.addIssue({ code: 'custom', path: [...issue.path, key], message: `is not a known key of ${kind} (expected one of: ${Object.keys(schema.shape).join(', ')})` })
      }
    } else {
      ctx.addIssue(issue as never)
    }
  }
  return z.NEVER
})

/** The `functions` section: a name for each function. */
export const functionsSchema = z.record(z.string().regex(NAME), functionSchema, {
  // The record's own message would otherwise stand for a bad name too.
  error: (issue) => issue.code === 'invalid_key'
    ? 'is not a valid function name: use letters, digits, _ . and - (up to 128), starting with a letter, digit or _'
    : 'must map function names to functions',
}).default({})

export type FunctionsConfig = z.output<typeof functionsSchema>

/** True when `config` runs local code in the worker pool. */
export function isModuleFunction(config: FunctionConfig): config is ModuleFunctionConfig {
  return 'module' in config
}

function isHttpUrl(value: string): boolean {
  if (!/^https?:\/\//i.test(value)) return false
  try {
    new URL(value)
    return true
  } catch {
    return false
  }
}
