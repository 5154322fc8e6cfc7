import { describe, expect, it } from 'vitest'
import { fixturePath } from '../helpers/fixtures.js'
import { httpRequest, rawHttp } from '../helpers/http-request.js'
import { useApp } from '../helpers/use-app.js'

// `curl -X POST -H 'content-type: application/json' .../hold` sends the
// content type and no body. Endpoints that take no body answer it as they
// answer a POST without the header; those that need one say so.

const TOKEN = 'empty-body-test-admin-token'
const f = useApp({ adminToken: TOKEN })

const CONFIG = `
functions:
  echo: { module: ${fixturePath('functions/echo.js')} }
routes:
  sink:
    targets: [ { function: echo } ]
`

/** A POST or PUT to the admin API with `content-type: application/json` and an empty body (Content-Length: 0). */
async function emptyJson(method: string, path: string): Promise<{ status: number; json: any }> {
  const answer = await httpRequest(f.app.addresses.http.port, `/api${path}`, {
    method,
    headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}`, 'content-length': '0' },
  })
  return { status: answer.status, json: JSON.parse(answer.body) }
}

describe('an empty body with content-type: application/json', () => {
  it('is accepted where the endpoint takes no body: hold, release, flush, invoke', async () => {
    await f.start(CONFIG)
    expect(await emptyJson('POST', '/routes/sink/hold')).toMatchObject({ status: 200, json: { held: true } })
    expect(await emptyJson('POST', '/routes/sink/release')).toMatchObject({ status: 200, json: { held: false } })
    expect(await emptyJson('POST', '/routes/sink/flush')).toMatchObject({ status: 200, json: { missing: [] } })
    expect(await emptyJson('POST', '/routes/flush')).toMatchObject({ status: 200, json: { missing: [] } })
    expect(await emptyJson('POST', '/functions/echo/invoke')).toMatchObject({ status: 200, json: { result: { event: null } } })
  })

  it('is accepted as curl sends it: no Content-Length at all', async () => {
    await f.start(CONFIG)
    const answer = await rawHttp(f.app.addresses.http.port, [
      'POST /api/routes/sink/hold HTTP/1.1',
      `Host: 127.0.0.1:${f.app.addresses.http.port}`,
      'Content-Type: application/json',
      `Authorization: Bearer ${TOKEN}`,
      'Connection: close',
      '', '',
    ].join('\r\n'))
    expect(answer.status).toBe(200)
    expect(answer.text).toContain('"held":true')
  })

  it('gets a 400 with one sentence where the endpoint needs a body', async () => {
    await f.start(CONFIG)
    for (const [method, path] of [['POST', '/rules/test'], ['POST', '/replay'], ['PUT', '/routes/sink']] as const) {
      const answer = await emptyJson(method, path)
      expect(answer.status, path).toBe(400)
      expect(answer.json, path).toEqual({ error: `${method} /api${path} needs a JSON body` })
    }
    // The route is as it was.
    expect((await f.api('/routes/sink')).targets).toEqual([{ function: 'echo', weight: 1 }])
  })

  it('leaves malformed and poisoned JSON refused', async () => {
    await f.start(CONFIG)
    const port = f.app.addresses.http.port
    const post = (body: string) => httpRequest(port, '/api/functions/echo/invoke', {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` },
      body,
    })
    expect((await post('{"event":')).status).toBe(400)
    expect((await post(' ')).status).toBe(400)
    expect((await post('{"__proto__":{"polluted":true}}')).status).toBe(400)
    const ok = await post('{"event":{"n":1}}')
    expect(ok.status).toBe(200)
    expect(JSON.parse(ok.body).result.event).toEqual({ n: 1 })
  })
})
