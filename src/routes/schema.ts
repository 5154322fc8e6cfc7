import { z } from 'zod'
import { duration } from '../duration.js'
import { retrySchema } from '../retry.js'

const NAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/
const weight = z.number({ error: 'must be a number' }).min(0, 'must not be negative').default(1)

/** Where a route sends an event: a function, an HTTP URL, a topic, or another route. */
export const targetSchema = z.union([
  z.strictObject({ function: z.string().regex(NAME, 'must be a function name'), weight }),
  z.strictObject({
    url: z.string().regex(/^https?:\/\//, 'must start with http:// or https://'),
    method: z.enum(['POST', 'PUT', 'PATCH']).default('POST'),
    headers: z.record(z.string(), z.string()).default({}),
    timeout: duration.default(5000),
    weight,
  }),
  z.strictObject({
    topic: z.string().min(1).refine((t) => !t.includes('+') && !t.includes('#'), 'must be a topic name, without wildcards'),
    qos: z.union([z.literal(0), z.literal(1), z.literal(2)]).default(1),
    weight,
  }),
  z.strictObject({ route: z.string().regex(NAME, 'must be a route name'), weight }),
], { error: 'must be one of { function }, { url }, { topic } or { route }, with an optional weight' })

export type TargetConfig = z.output<typeof targetSchema>

export const routeSchema = z.strictObject({
  targets: z.array(targetSchema, { error: 'must be a list of targets' }).min(1, 'must have at least one target'),
  /** Send every event to every target, instead of one target chosen by weight. */
  fanout: z.boolean({ error: 'must be true or false' }).default(false),
  retry: retrySchema.optional(),
}).superRefine((route, ctx) => {
  if (!route.fanout && route.targets.every((t) => t.weight === 0)) {
    ctx.addIssue({ code: 'custom', path: ['targets'], message: 'must give at least one target a weight above 0' })
  }
})

export type RouteConfig = z.output<typeof routeSchema>

export const routesSchema = z.record(z.string().regex(NAME, 'must be a route name'), routeSchema, { error: 'must map route names to routes' }).default({})

/** How long a node of a cluster may go without reading the routes again, unless `routes.cacheTtl` says. */
export const DEFAULT_ROUTES_CACHE_TTL_MS = 5000

/**
 * `routes:` as the config file has it: route names to routes, and
 * `cacheTtl`, a duration (a route is a mapping, so the two never mix; no
 * route can be named cacheTtl). In a cluster, the longest a route change
 * made through one node goes unseen by another whose change notices were
 * lost: each node reads the routes again at least this often.
 */
export const routesSectionSchema = z.object({
  cacheTtl: duration.refine((ms) => ms >= 100, 'must be at least 100ms').optional(),
}, { error: 'must map route names to routes' }).catchall(routeSchema).superRefine((section, ctx) => {
  for (const name of Object.keys(section)) {
    if (name !== 'cacheTtl' && !NAME.test(name)) ctx.addIssue({ code: 'custom', path: [name], message: 'must be a route name' })
  }
}).default({})

/** Splits `routes:` into the routes and their cache's time to live. */
export function splitRoutesSection(section: z.output<typeof routesSectionSchema>): { routes: Record<string, RouteConfig>; cacheTtl: number } {
  const { cacheTtl, ...routes } = section
  return { routes: routes as Record<string, RouteConfig>, cacheTtl: cacheTtl ?? DEFAULT_ROUTES_CACHE_TTL_MS }
}
