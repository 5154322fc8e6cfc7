import { isAbsolute, join, resolve } from 'node:path'
import { stringify } from 'yaml'

/** One node of the local cluster: its id, ports and folder (its config file and SQLite file). */
export interface NodePlan {
  id: string
  mqttPort: number
  httpPort: number
  dir: string
}

type ConfigObject = Record<string, any>

/**
 * A node's config: `base` (the top-level switchyard.yaml, what `npm start`
 * runs, read from `baseDir`) with the node's own listeners, SQLite file and
 * `cluster:` section, and `adminToken` when the base has no admin token.
 * The rules, functions and everything else stay as in the base. The node's
 * file lives in its own folder, so the base's relative paths (function
 * modules, TLS files, the JWT secret file) are made absolute.
 */
export function nodeConfig(base: ConfigObject, baseDir: string, node: NodePlan, redisUrl: string, adminToken?: string): ConfigObject {
  const absolute = (path: string) => (isAbsolute(path) ? path : resolve(baseDir, path))
  const functions = Object.fromEntries(Object.entries((base.functions ?? {}) as ConfigObject).map(([name, fn]) =>
    [name, typeof fn?.module === 'string' ? { ...fn, module: absolute(fn.module) } : fn]))
  const tls = base.tls && Object.fromEntries(Object.entries(base.tls as Record<string, string>).map(([key, path]) => [key, absolute(path)]))
  // One secret file for every node: a token signed by one is good on all.
  const jwt = base.auth?.jwt
  const auth = typeof jwt?.secretFile === 'string' ? { auth: { ...base.auth, jwt: { ...jwt, secretFile: absolute(jwt.secretFile) } } } : {}
  return {
    ...base,
    // Only the plain listeners: every node needs its own ports, and TLS ones
    // would clash.
    listen: { mqtt: node.mqttPort, http: node.httpPort },
    ...(tls ? { tls } : {}),
    ...auth,
    storage: { ...base.storage, sqlite: join(node.dir, 'switchyard.db') },
    functions,
    cluster: { ...base.cluster, redis: redisUrl, nodeId: node.id },
    ...(adminToken !== undefined && base.admin?.token === undefined ? { admin: { ...base.admin, token: adminToken } } : {}),
  }
}

/** The node's config as the YAML file it runs, with a header that says where it comes from. */
export function nodeConfigYaml(config: ConfigObject, baseFile: string): string {
  return `# Written by \`npm run cluster\` from ${baseFile} at each run: edit that file, not this one.\n${stringify(config, { lineWidth: 0 })}`
}
