// aedes-persistence's own contract suite, run against the compiled Redis
// session store (`npx tsc -p tsconfig.build.json` first) on a real
// redis-server, each instance under a key prefix of its own, once on a plain
// connection and once on an auto-pipelined one (as the cluster's).
import { Redis } from 'ioredis'
import { createRequire } from 'node:module'
import { after, before, describe, test } from 'node:test'
import { RedisSessionStore } from '../../dist/redis/sessions.js'
import { startRedis } from './redis-server.mjs'

const require = createRequire(import.meta.url)
const abstractPersistence = require('aedes-persistence/abstract.js')

for (const [name, options] of [['a plain connection', {}], ['an auto-pipelined connection', { enableAutoPipelining: true }]]) {
  describe(`Redis session store on ${name}`, () => {
    let server
    let redis
    before(async () => {
      server = await startRedis()
      redis = new Redis(server.url, options)
    })
    after(async () => {
      await redis?.quit()
      await server?.stop()
    })

    let instances = 0
    abstractPersistence({
      test,
      testAsync: true,
      persistence: () => new RedisSessionStore({ redis, keyPrefix: `abstract:${++instances}:` }),
    })
  })
}
