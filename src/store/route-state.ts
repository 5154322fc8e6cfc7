import type { Statement } from 'better-sqlite3'
import type { RouteState, RouteStateStore, RuleSwitch, SavedRoute } from '../storage/route-state-store.js'
import type { Db } from './database.js'
import { migrate } from './migrate.js'

const STEPS = [
  `CREATE TABLE routes (
    name TEXT PRIMARY KEY,
    definition TEXT,
    held INTEGER NOT NULL DEFAULT 0,
    updated_at INTEGER NOT NULL
  );`,
  `CREATE TABLE routes_version (id INTEGER PRIMARY KEY CHECK (id = 1), version INTEGER NOT NULL);
  INSERT INTO routes_version (id, version) VALUES (1, 0);`,
  `CREATE TABLE rule_switches (
    name TEXT PRIMARY KEY,
    enabled INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
  );`,
]

/** The changes made to routes and rules through the admin API, in SQLite; each one a new version. */
export class SqliteRouteStateStore implements RouteStateStore {
  readonly #db: Db
  readonly #s: Record<'upsertDefinition' | 'upsertHeld' | 'saved' | 'upsertRule' | 'deleteRule' | 'rules' | 'version' | 'bump', Statement>

  constructor(db: Db) {
    migrate(db, 'routes', STEPS)
    this.#db = db
    this.#s = {
      upsertDefinition: db.prepare(`INSERT INTO routes (name, definition, updated_at) VALUES (?, ?, ?)
        ON CONFLICT (name) DO UPDATE SET definition = excluded.definition, updated_at = excluded.updated_at`),
      upsertHeld: db.prepare(`INSERT INTO routes (name, held, updated_at) VALUES (?, ?, ?)
        ON CONFLICT (name) DO UPDATE SET held = excluded.held`),
      saved: db.prepare('SELECT name, definition, held, updated_at FROM routes'),
      upsertRule: db.prepare(`INSERT INTO rule_switches (name, enabled, updated_at) VALUES (?, ?, ?)
        ON CONFLICT (name) DO UPDATE SET enabled = excluded.enabled, updated_at = excluded.updated_at`),
      deleteRule: db.prepare('DELETE FROM rule_switches WHERE name = ?'),
      rules: db.prepare('SELECT name, enabled, updated_at FROM rule_switches ORDER BY name'),
      version: db.prepare('SELECT version FROM routes_version WHERE id = 1').pluck(),
      bump: db.prepare('UPDATE routes_version SET version = version + 1 WHERE id = 1 RETURNING version').pluck(),
    }
  }

  async read(): Promise<RouteState> {
    return this.#db.transaction(() => ({
      version: this.#s.version.get() as number,
      routes: (this.#s.saved.all() as Array<{ name: string; definition: string | null; held: number; updated_at: number }>).map((row): SavedRoute => ({
        name: row.name,
        definition: row.definition === null ? null : (JSON.parse(row.definition) as unknown),
        held: row.held === 1,
        updatedAt: row.definition === null ? null : row.updated_at,
      })),
      rules: (this.#s.rules.all() as Array<{ name: string; enabled: number; updated_at: number }>).map((row): RuleSwitch => ({
        name: row.name,
        enabled: row.enabled === 1,
        updatedAt: row.updated_at,
      })),
    }))()
  }

  async version(): Promise<number> {
    return this.#s.version.get() as number
  }

  async putDefinition(name: string, definition: unknown, at: number): Promise<number> {
    return this.#db.transaction(() => {
      this.#s.upsertDefinition.run(name, JSON.stringify(definition), at)
      return this.#s.bump.get() as number
    })()
  }

  async setHeld(name: string, held: boolean, at: number): Promise<number> {
    return this.#db.transaction(() => {
      this.#s.upsertHeld.run(name, held ? 1 : 0, at)
      return this.#s.bump.get() as number
    })()
  }

  async setRuleEnabled(name: string, enabled: boolean | null, at: number): Promise<number> {
    return this.#db.transaction(() => {
      if (enabled === null) this.#s.deleteRule.run(name)
      else this.#s.upsertRule.run(name, enabled ? 1 : 0, at)
      return this.#s.bump.get() as number
    })()
  }
}
