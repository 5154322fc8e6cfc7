import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { parse } from 'yaml'
import { nodeConfig, nodeConfigYaml } from '../cluster/node-config.js'
import { parseConfig, type Config } from '../src/config/load.js'

// The configs the cluster runs with: `npm run cluster` derives each node's
// from switchyard.yaml; docker/cluster.yaml repeats the chat's rules for
// the image. Both must stay the chat `npm start` runs.
const ROOT = fileURLToPath(new URL('../', import.meta.url))
const read = (file: string) => readFileSync(join(ROOT, file), 'utf8')
const root = parseConfig(read('switchyard.yaml'), join(ROOT, 'switchyard.yaml'))

/** The functions with their modules (paths already resolved by the loader). */
const modules = (config: Config) => Object.fromEntries(Object.entries(config.functions).map(([name, fn]) => [name, 'module' in fn ? fn.module : undefined]))

describe('npm run cluster', () => {
  it("gives each node the chat of switchyard.yaml, its own ports, SQLite file and node id, and Redis' URL", () => {
    const base = parse(read('switchyard.yaml')) as Record<string, unknown>
    const plans = ['node-a', 'node-b'].map((id, i) => ({ id, mqttPort: 1883 + i, httpPort: 8080 + i, dir: join(ROOT, 'data/cluster', id) }))
    for (const [i, plan] of plans.entries()) {
      const text = nodeConfigYaml(nodeConfig(base, ROOT, plan, 'redis://127.0.0.1:6390'), 'switchyard.yaml')
      expect((parse(text) as { rules: unknown }).rules).toEqual(base.rules)
      const config = parseConfig(text, join(plan.dir, 'switchyard.yaml'))
      expect(modules(config)).toEqual(modules(root))
      expect(config.listen).toEqual({ mqtt: { host: '127.0.0.1', port: 1883 + i }, http: { host: '127.0.0.1', port: 8080 + i } })
      expect(config.storage.sqlite).toBe(join(plan.dir, 'switchyard.db'))
      expect(config.cluster).toMatchObject({ redis: 'redis://127.0.0.1:6390', nodeId: plan.id })
      // One secret file for every node, where `npm start` keeps it.
      expect(config.auth.jwt?.secretFile).toBe(join(ROOT, 'data/jwt-secret'))
    }
  })

  it('gives the nodes an admin token when switchyard.yaml has none, and keeps the one it has', () => {
    const base = parse(read('switchyard.yaml')) as Record<string, unknown>
    const plan = { id: 'node-a', mqttPort: 1883, httpPort: 8080, dir: join(ROOT, 'data/cluster/node-a') }
    expect(nodeConfig(base, ROOT, plan, 'redis://r:1', 'made-for-the-cluster-0123').admin).toEqual({ token: 'made-for-the-cluster-0123' })
    expect(nodeConfig({ ...base, admin: { token: 'the-users-own-token-0123' } }, ROOT, plan, 'redis://r:1', 'made-for-the-cluster-0123').admin).toEqual({ token: 'the-users-own-token-0123' })
  })
})

describe('docker/cluster.yaml', () => {
  const text = read('docker/cluster.yaml')

  it('is the chat of switchyard.yaml on the `redis` service, named by SWITCHYARD_NODE_ID', () => {
    const config = parseConfig(text, '/etc/switchyard/cluster.yaml', { SWITCHYARD_NODE_ID: 'node-b' })
    expect(config.cluster).toMatchObject({ redis: 'redis://redis:6379', nodeId: 'node-b' })
    expect(config.storage.sqlite).toBe('/data/switchyard.db')
    expect(config.listen).toEqual({ mqtt: { host: '0.0.0.0', port: 1883 }, http: { host: '0.0.0.0', port: 8080 } })
    expect((parse(text) as { rules: unknown }).rules).toEqual((parse(read('switchyard.yaml')) as { rules: unknown }).rules)
    // The same users and ACL, with the JWT secret on a volume every node shares.
    expect(config.acl).toEqual(root.acl)
    expect(config.auth).toEqual({ ...root.auth, jwt: { ...root.auth.jwt, secretFile: '/secrets/jwt-secret' } })
    // The image holds the repository's examples/ at /app/examples (Dockerfile).
    const inImage = Object.fromEntries(Object.entries(modules(config)).map(([name, module]) => [name, module?.replace(/^\/app\//, ROOT)]))
    expect(inImage).toEqual(modules(root))
    for (const module of Object.values(inImage)) expect(existsSync(module!)).toBe(true)
  })
})

describe('docker-compose.yml', () => {
  const compose = parse(read('docker-compose.yml'), { merge: true }) as {
    services: Record<string, { environment?: Record<string, string>; volumes?: string[]; command?: string[]; build?: string }>
    volumes: Record<string, unknown>
  }
  const nodes = Object.keys(compose.services).filter((name) => compose.services[name]!.build !== undefined)

  it('runs three nodes, each named after its service, with a volume of its own and one they share for the JWT secret', () => {
    expect(nodes).toEqual(['node-a', 'node-b', 'node-c'])
    const volumes = nodes.map((name) => compose.services[name]!.volumes)
    for (const [i, name] of nodes.entries()) {
      expect(compose.services[name]!.environment).toEqual({ SWITCHYARD_NODE_ID: name })
      expect(volumes[i]).toEqual([`${name}-data:/data`, 'secrets:/secrets'])
      expect(compose.volumes).toHaveProperty(`${name}-data`)
      expect(compose.volumes).toHaveProperty('secrets')
    }
  })

  it('keeps Redis on an append-only file, and HAProxy sends to every node in both backends', () => {
    expect(compose.services.redis!.command?.join(' ')).toContain('--appendonly yes')
    const cfg = read('docker/haproxy.cfg')
    const servers = (backend: string) => [...cfg.split(`\nbackend ${backend}\n`)[1]!.split('\n\n')[0]!.matchAll(/^ {2}server (\S+) (\S+)/gm)].map((m) => `${m[1]} ${m[2]}`)
    expect(servers('mqtt-nodes')).toEqual(nodes.map((n) => `${n} ${n}:1883`))
    expect(servers('http-nodes')).toEqual(nodes.map((n) => `${n} ${n}:8080`))
  })
})
