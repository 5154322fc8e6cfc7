import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { startCluster } from './helpers/cluster.js'
import { startRedis } from './helpers/redis.js'
import { useCluster } from './helpers/use-cluster.js'

const TOKEN = 'cluster-harness-token-0123456789'

/** The nodes' temp folders that exist now. */
function nodeFolders(): string[] {
  return readdirSync(tmpdir()).filter((name) => name.startsWith('switchyard-cluster-node-'))
}

/** The config in a node folder, or '' when there is none (yet, or any more). */
function configOf(folder: string): string {
  try {
    return readFileSync(join(tmpdir(), folder, 'switchyard.yaml'), 'utf8')
  } catch {
    return ''
  }
}

async function healthz(httpUrl: string): Promise<{ status: number; body: unknown }> {
  const res = await fetch(`${httpUrl}/healthz`)
  return { status: res.status, body: await res.json() }
}

describe('the cluster harness', () => {
  const f = useCluster({ adminToken: TOKEN })

  it('starts a Redis and three nodes, each in its own folder, answering /healthz and MQTT over TCP and WebSocket', async () => {
    const cluster = await f.start()
    expect(cluster.nodes.map((n) => n.id)).toEqual(['node-a', 'node-b', 'node-c'])
    expect(new Set(cluster.nodes.map((n) => n.dir)).size).toBe(3)
    expect(new Set(cluster.nodes.map((n) => n.mqttUrl)).size).toBe(3)
    for (const node of cluster.nodes) {
      expect(readFileSync(node.configFile, 'utf8')).toContain(`cluster:\n  redis: ${cluster.redis.url}\n  nodeId: ${node.id}\n`)
      // A node of a cluster keeps its stores in Redis: no SQLite file.
      expect(existsSync(join(node.dir, 'switchyard.db'))).toBe(false)
      expect(await healthz(node.httpUrl)).toEqual({ status: 200, body: { status: 'ok' } })
      expect((await f.connect(node, { clientId: `smoke-tcp-${node.id}` })).connected).toBe(true)
      expect((await f.connect(node.wsUrl, { clientId: `smoke-ws-${node.id}` })).connected).toBe(true)
    }

    // One cluster: every node lists the three, and a message crosses nodes.
    for (const node of cluster.nodes) {
      const view = await f.api(node, '/cluster')
      expect(view).toMatchObject({ cluster: true, node: node.id })
      expect(view.nodes.map((n: { id: string }) => n.id).sort()).toEqual(['node-a', 'node-b', 'node-c'])
    }
    const [a, , c] = cluster.nodes
    const { client: sub, inbox } = await f.connectWithInbox(c!, { clientId: 'smoke-sub' })
    await sub.subscribeAsync('smoke/#', { qos: 1 })
    await (await f.connect(a!, { clientId: 'smoke-pub' })).publishAsync('smoke/hello', 'from node-a', { qos: 1 })
    expect((await inbox.on('smoke/hello')).payload).toBe('from node-a')
  })

  it('restarts a killed node on its folder and its ports', async () => {
    const { nodes: [, b] } = await f.start({ nodes: 2 })
    const { mqttUrl, httpUrl } = b!
    expect(await b!.kill('SIGKILL')).toEqual({ code: null, signal: 'SIGKILL' })
    expect(b!.running).toBe(false)
    expect(await f.attempt(b!)).toMatch(/ECONNREFUSED/)

    await b!.restart()
    expect([b!.mqttUrl, b!.httpUrl]).toEqual([mqttUrl, httpUrl])
    expect(b!.running).toBe(true)
    expect(await healthz(b!.httpUrl)).toEqual({ status: 200, body: { status: 'ok' } })
    expect(await f.attempt(b!)).toBe('connected')
  })
})

describe('startCluster', () => {
  it('stop() kills the nodes and removes its Redis and the folders', async () => {
    const cluster = await startCluster({ nodes: 1 })
    const [node] = cluster.nodes
    await cluster.stop()
    expect(node!.running).toBe(false)
    expect(existsSync(node!.dir)).toBe(false)
    expect(existsSync(cluster.redis.dir)).toBe(false)
  })

  it('undoes what it started when a node cannot start, and says why', async () => {
    const redis = await startRedis()
    const before = nodeFolders()
    try {
      await expect(startCluster({ nodes: 2, redis, yaml: 'nonsense: true\n' })).rejects.toThrow(/nonsense is not a known key/)
      // Other test files make node folders too: only this call's (its config says nonsense) must be gone.
      const left = nodeFolders().filter((name) => !before.includes(name) && configOf(name).includes('nonsense: true'))
      expect(left).toEqual([])
      // The Redis it was given stays.
      expect(existsSync(redis.dir)).toBe(true)
    } finally {
      await redis.remove()
    }
  })
})
