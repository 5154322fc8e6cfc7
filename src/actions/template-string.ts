import { z } from 'zod'
import { compileTemplate, type TemplateEnv } from '../sql/index.js'
import { SqlSyntaxError } from '../errors.js'

/** A compiled substitution template such as `chat/pub/${room}`. */
export interface Template {
  readonly source: string
  /** True when the template has no `${...}`: its text is the value. */
  readonly constant: boolean
  render(env: TemplateEnv): string
}

/**
 * The schema of a config string that is a substitution template, compiled
 * when the config is loaded: a `${...}` that does not parse is a config
 * error with its place. `encode`, when given, is applied to each value
 * filled in (see url-template.ts).
 */
export function templateSchema(encode?: (text: string) => string) {
  return z.string({ error: 'must be a string (a substitution template such as chat/pub/${room})' })
    .min(1, 'must not be empty')
    .transform((source, ctx): Template => {
      try {
        const render = compileTemplate(source, encode)
        return { source, constant: !source.includes('${'), render }
      } catch (err) {
        const detail = err instanceof SqlSyntaxError ? err.message : String(err)
        ctx.addIssue({ code: 'custom', message: `is not a valid substitution template: ${detail}` })
        return z.NEVER
      }
    })
}

/** A substitution template whose values are inserted as they are (topics, keys, payloads, headers, bodies). */
export const templateString = templateSchema()
