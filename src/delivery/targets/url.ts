import { ActionError } from '../../errors.js'
import type { RetryPolicy } from '../../retry.js'
import { address, publicContext, type TargetKind } from './target.js'

export type UrlTarget = { kind: 'url'; url: string }

export interface HttpRequest {
  method: string
  url: string
  headers: Record<string, string>
  /** Bytes for `SELECT *` of a payload that is not JSON. */
  body: string | Buffer | undefined
}

/** What the outbox keeps of a durable http action: the request as rendered, sent as it is. */
export interface DurableHttpRequest extends Omit<HttpRequest, 'body'> {
  body?: string | undefined
  /** A body of bytes, in base64: the outbox keeps JSON. */
  bodyBase64?: string
  /** Tells it from a route's url target, whose request is built from the event. */
  rendered: true
  timeout: number
  retry?: RetryPolicy
}

/** The request as the outbox keeps it (see DurableHttpRequest). */
export function durableRequest(request: HttpRequest, timeout: number, retry: RetryPolicy | undefined): DurableHttpRequest {
  const { body, ...rest } = request
  return {
    ...rest,
    ...(Buffer.isBuffer(body) ? { bodyBase64: body.toString('base64') } : { body }),
    rendered: true,
    timeout,
    ...(retry ? { retry } : {}),
  }
}

/** What a route's url target keeps in the delivery's spec. */
interface RouteUrlSpec {
  url: string
  method: string
  headers: Record<string, string>
  timeout: number
}

/**
 * An HTTP endpoint: a durable http action's request as the rule rendered
 * it, or a route's url target, which is sent `{ event, context }` as JSON.
 */
export const urlTarget: TargetKind<UrlTarget> = {
  ...address<UrlTarget, 'url'>('url', 'url'),
  async deliver(_target, d) {
    if (isRenderedRequest(d.spec)) {
      const { method, url, headers, body, bodyBase64, timeout } = d.spec
      await send({ method, url, headers, body: bodyBase64 === undefined ? body : Buffer.from(bodyBase64, 'base64') }, timeout)
      return
    }
    const spec = d.spec as RouteUrlSpec
    await send({
      method: spec.method,
      url: spec.url,
      headers: { 'content-type': 'application/json', ...spec.headers },
      body: JSON.stringify({ event: d.event, context: publicContext(d) }),
    }, spec.timeout)
  },
}

export function isRenderedRequest(spec: unknown): spec is DurableHttpRequest {
  return typeof spec === 'object' && spec !== null && (spec as { rendered?: unknown }).rendered === true
}

/** Sends a request; resolves with the response for a 2xx, throws an ActionError otherwise. */
export async function send(request: HttpRequest, timeoutMs: number): Promise<Response> {
  let response: Response
  try {
    response = await fetch(request.url, {
      method: request.method,
      headers: request.headers,
      ...(request.body === undefined ? {} : { body: request.body }),
      signal: AbortSignal.timeout(timeoutMs),
      redirect: 'manual',
    })
  } catch (err) {
    const e = err as Error & { cause?: { code?: string; message?: string } }
    const reason = e.name === 'TimeoutError' ? `timed out after ${timeoutMs} ms` : e.cause?.code ?? e.cause?.message ?? e.message
    throw new ActionError(`${request.method} ${request.url} failed: ${reason}`, true, { cause: err })
  }
  if (response.status >= 200 && response.status < 300) return response
  // Free the connection; the body of a failure is only read for the message.
  const text = (await response.text().catch(() => '')).slice(0, 200)
  // A client error will not go away by itself, but 408 and 429 ask to retry.
  const retryable = response.status >= 500 || response.status === 408 || response.status === 429
  throw new ActionError(`${request.method} ${request.url} answered ${response.status}${text ? `: ${text}` : ''}`, retryable)
}
