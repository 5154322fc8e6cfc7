// aedes-persistence's own contract suite, run against the compiled SQLite
// persistence (`npx tsc -p tsconfig.build.json` first): once on an in-memory
// database and once on a fresh database file per instance.
import { mkdtempSync, rmSync } from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, test } from 'node:test'
import { createSqlitePersistence } from '../../dist/persistence/index.js'

const require = createRequire(import.meta.url)
const abstractPersistence = require('aedes-persistence/abstract.js')

describe('SQLite persistence in memory', () => {
  abstractPersistence({
    test,
    testAsync: true,
    persistence: () => createSqlitePersistence({ path: ':memory:' }),
  })
})

describe('SQLite persistence on a file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'switchyard-persistence-'))
  after(() => rmSync(dir, { recursive: true, force: true }))
  let instances = 0
  abstractPersistence({
    test,
    testAsync: true,
    persistence: () => createSqlitePersistence({ path: join(dir, `sessions-${++instances}.db`) }),
  })
})
