// aedes-persistence's own contract suite, run against the compiled Redis
// session store (`npx tsc -p tsconfig.build.json` first) on a real
// redis-server, each instance under a key prefix of its own.
import { Redis } from 'ioredis'
import { createRequire } from 'node:module'
import { after, before, describe, test } from 'node:test'
import { RedisSessionStore } from '../../dist/redis/sessions.js'
import { startRedis } from './redis-server.mjs'

const require = createRequire(import.meta.url)
const abstractPersistence = require('aedes-persistence/abstract.js')

describe('Redis session store', () => {
  let server
  let redis
  before(async () => {
    server = await startRedis()
    redis = new Redis(server.url)
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
