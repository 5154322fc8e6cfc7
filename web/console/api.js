// The admin API, with the token kept for this tab only (sessionStorage).

const KEY = 'switchyard.console.token'

export const token = {
  get: () => sessionStorage.getItem(KEY) ?? '',
  set: (value) => sessionStorage.setItem(KEY, value),
  clear: () => sessionStorage.removeItem(KEY),
}

/** An answer the console cannot go on from: `status` 401 (wrong token) or 403 (the API is off). */
export class ApiError extends Error {
  constructor(status, message) {
    super(message)
    this.status = status
  }
}

export async function api(path, { method = 'GET', body } = {}) {
  const headers = { authorization: `Bearer ${token.get()}` }
  if (body !== undefined) headers['content-type'] = 'application/json'
  const res = await fetch(`/api${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) })
  const text = await res.text()
  const data = text ? JSON.parse(text) : null
  if (!res.ok && res.status !== 504) throw new ApiError(res.status, data?.error ?? `${res.status} ${res.statusText}`)
  return data
}

/**
 * Reads server-sent events from an API path with fetch (EventSource cannot
 * send the token), calling `onEvent(name, data)` for each, until `signal`
 * aborts or the server ends the stream. Resolves when it ends.
 */
export async function stream(path, onEvent, signal) {
  const res = await fetch(`/api${path}`, { headers: { authorization: `Bearer ${token.get()}` }, signal })
  if (!res.ok) {
    const data = await res.json().catch(() => null)
    throw new ApiError(res.status, data?.error ?? `${res.status} ${res.statusText}`)
  }
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader()
  let buffer = ''
  for (;;) {
    const { value, done } = await reader.read()
    if (done) return
    buffer += value
    let end
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const block = buffer.slice(0, end)
      buffer = buffer.slice(end + 2)
      const name = /^event: (.*)$/m.exec(block)?.[1]
      const data = /^data: (.*)$/m.exec(block)?.[1]
      if (name && data) onEvent(name, JSON.parse(data))
    }
  }
}
