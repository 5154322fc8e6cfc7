import type { RetryPolicy } from '../retry.js'
import { ActionError } from '../errors.js'
import type { FunctionTarget, InvocationContext } from './function-target.js'

export interface HttpFunctionOptions {
  name: string
  url: string
  timeout: number
  headers: Readonly<Record<string, string>>
  retry: RetryPolicy | undefined
}

// Like AWS Lambda's limit on a synchronous response; a bigger answer is refused
// rather than held in memory.
const MAX_RESPONSE_BYTES = 6 * 1024 * 1024

/**
 * A function that is an HTTP endpoint: it gets `POST { event, context }` as
 * JSON, and a 2xx answer's JSON body is the result (an empty body is null).
 */
export class HttpFunction implements FunctionTarget {
  readonly kind = 'http'
  readonly name: string
  readonly timeout: number
  readonly retry: RetryPolicy | undefined
  readonly #url: string
  readonly #headers: Readonly<Record<string, string>>

  constructor(options: HttpFunctionOptions) {
    this.name = options.name
    this.timeout = options.timeout
    this.retry = options.retry
    this.#url = options.url
    this.#headers = { 'content-type': 'application/json', ...options.headers }
  }

  async invoke(event: unknown, context: InvocationContext, signal?: AbortSignal): Promise<unknown> {
    const name = this.name
    const deadline = AbortSignal.timeout(this.timeout)
    const body = JSON.stringify({
      event: event ?? null,
      context: { clientId: context.clientId ?? null, topic: context.topic, rule: context.rule ?? null, requestId: context.requestId },
    })
    let text: string
    let status: number
    try {
      // The deadline covers reading the body too.
      const response = await fetch(this.#url, {
        method: 'POST',
        headers: { ...this.#headers, 'x-request-id': context.requestId },
        body,
        signal: signal ? AbortSignal.any([deadline, signal]) : deadline,
        redirect: 'manual',
      })
      status = response.status
      text = await readCapped(response, MAX_RESPONSE_BYTES, name)
    } catch (err) {
      throw this.#requestFailure(err, deadline, signal)
    }

    if (status < 200 || status >= 300) {
      // A client error will not go away by itself, but 408 and 429 ask to retry.
      const retryable = status >= 500 || status === 408 || status === 429
      const detail = text.trim().slice(0, 200)
      throw new ActionError(`function ${name} answered ${status}${detail ? `: ${detail}` : ''}`, retryable)
    }
    if (text.trim() === '') return null
    try {
      return JSON.parse(text) as unknown
    } catch {
      // The function ran; calling it again would not make its answer JSON.
      throw new ActionError(`function ${name} answered ${status} with a body that is not JSON: ${text.slice(0, 100)}`, false)
    }
  }

  #requestFailure(err: unknown, deadline: AbortSignal, signal: AbortSignal | undefined): ActionError {
    const name = this.name
    const cause = { cause: err }
    if (err instanceof ActionError) return err
    if (deadline.aborted) return new ActionError(`function ${name} timed out after ${this.timeout} ms`, true, cause)
    if (signal?.aborted) return new ActionError(`function ${name} was cancelled`, true, cause)
    // fetch says only "fetch failed"; the reason (ECONNREFUSED, ENOTFOUND...) is in its cause.
    const e = err as Error & { cause?: { code?: string; message?: string } }
    const reason = e.cause?.code ?? e.cause?.message ?? e.message
    return new ActionError(`function ${name} could not be reached at ${this.#url}: ${reason}`, true, cause)
  }
}

/** The body as text, refusing one longer than `limit` bytes. */
async function readCapped(response: Response, limit: number, name: string): Promise<string> {
  if (!response.body) return ''
  const declared = Number(response.headers.get('content-length'))
  if (declared > limit) {
    await response.body.cancel()
    throw new ActionError(`function ${name} answered with ${declared} bytes, more than the ${limit} allowed`, false)
  }
  const chunks: Uint8Array[] = []
  let size = 0
  for await (const chunk of response.body) {
    size += chunk.byteLength
    if (size > limit) {
      throw new ActionError(`function ${name} answered with more than the ${limit} bytes allowed`, false)
    }
    chunks.push(chunk)
  }
  return Buffer.concat(chunks).toString('utf8')
}
