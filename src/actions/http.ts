import { z } from 'zod'
import { duration } from '../duration.js'
import { ActionError } from '../errors.js'
import { durableRequest, formatTarget, send, type HttpRequest } from '../delivery/targets/index.js'
import { retrySchema } from '../retry.js'
import { deliveryContext, type ActionEvent, type ActionKind } from './action.js'
import { describeBytes, jsonOutput } from './output-bytes.js'
import { outputPayload } from './republish.js'
import { templateString } from './template-string.js'
import { hasDotSegment, urlTemplateString } from './url-template.js'

const schema = z.strictObject({
  /** Each value filled in is percent-encoded (url-template.ts); the template's own text is sent as written. */
  url: urlTemplateString
    .refine((url) => /^https?:\/\//.test(url.source), 'must start with http:// or https://')
    .refine((url) => !(url.constant && hasDotSegment(url.source)), 'must not have a "." or ".." path segment: write the path it stands for'),
  method: z.enum(['POST', 'PUT', 'PATCH', 'GET', 'DELETE'], { error: 'must be POST, PUT, PATCH, GET or DELETE' }).default('POST'),
  headers: z.record(z.string(), templateString).default({}),
  /**
   * The body; when absent, the rule's SELECT output as JSON, or the
   * payload's bytes (as application/octet-stream) for `SELECT *` of one that
   * is not JSON.
   */
  body: templateString.optional(),
  timeout: duration.default(5000),
  /**
   * Record the request in the outbox and send it at least once, retried with
   * backoff, instead of once right away. The errorAction then runs when the
   * request is dead-lettered, not at its first failure.
   */
  durable: z.boolean({ error: 'must be true or false' }).default(false),
  /** The retry policy of a durable request; without it, `delivery.retry`. */
  retry: retrySchema.optional(),
}).refine((c) => c.durable || c.retry === undefined, { path: ['retry'], message: 'applies only to a durable request: add durable: true' })

export type HttpConfig = z.output<typeof schema>

/**
 * Sends the event to an HTTP endpoint. Only a 2xx answer is a success: a 4xx
 * or 5xx is a failure that reaches the rule's errorAction.
 */
export const http: ActionKind<HttpConfig> = {
  schema,
  create(config, deps) {
    const { url, body } = config
    const headers = Object.entries(config.headers)
    const hasBody = config.method !== 'GET' && config.method !== 'DELETE'
    const render = (event: ActionEvent): HttpRequest => {
      const output = hasBody && body === undefined ? outputPayload(event.output) : undefined
      return {
        method: config.method,
        url: event.fill(url),
        headers: {
          ...(output === undefined ? {} : { 'content-type': typeof output === 'string' ? 'application/json' : 'application/octet-stream' }),
          ...Object.fromEntries(headers.map(([name, value]) => [name, event.fill(value)])),
        },
        body: hasBody ? (body ? event.fill(body) : output) : undefined,
      }
    }
    /** The request as a dry run shows it: a body of bytes as text or base64. */
    const described = (event: ActionEvent) => {
      const { body: sent, ...request } = render(event)
      return { kind: 'http', ...request, ...(Buffer.isBuffer(sent) ? describeBytes('body', sent) : { body: sent }), timeout: config.timeout }
    }
    /** The request of `event`, unless a value made a dot segment that would send it elsewhere. */
    const checked = (event: ActionEvent) => {
      const request = render(event)
      if (hasDotSegment(request.url)) {
        throw new ActionError(`${request.method} ${request.url} was not sent: its path has a "." or ".." segment, which would change the path it goes to`, false)
      }
      return request
    }
    if (config.durable) {
      return {
        kind: 'http',
        durable: true,
        async run(event) {
          const request = checked(event)
          const spec = durableRequest(request, config.timeout, config.retry)
          await deps.deliveries.record({ target: formatTarget({ kind: 'url', url: request.url }), spec, event: jsonOutput(event.output), context: deliveryContext(event) }, event)
        },
        describe(event) {
          return { ...described(event), durable: true }
        },
      }
    }
    return {
      kind: 'http',
      async run(event) {
        const request = checked(event)
        await send(request, config.timeout)
      },
      describe: described,
    }
  },
}
