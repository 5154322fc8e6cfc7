import { clusterSchema } from '../cluster/schema.js'
import { ConfigError } from '../errors.js'
import type { Config } from './schema.js'

/** The variable that names a cluster node whose config file leaves `cluster.nodeId` out. */
export const NODE_ID_VARIABLE = 'SWITCHYARD_NODE_ID'

/**
 * What the environment adds to a validated config: `SWITCHYARD_NODE_ID` is
 * the node's id when the file has a `cluster:` section without `nodeId`, so
 * that one file serves every node of a cluster (docker-compose.yml gives
 * each service its own). A `nodeId` in the file wins. It is read at each
 * load, so a reload sees the same id and reports no change.
 */
export function applyEnvironment(config: Config, env: NodeJS.ProcessEnv, file: string): Config {
  const nodeId = env[NODE_ID_VARIABLE]
  if (!config.cluster || config.cluster.nodeId !== undefined || nodeId === undefined || nodeId === '') return config
  const checked = clusterSchema.shape.nodeId.safeParse(nodeId)
  if (!checked.success) {
    const reason = checked.error.issues[0]?.message ?? 'is not a valid node id'
    throw new ConfigError('SY_CONFIG_INVALID', `cluster.nodeId is not in the file, and ${NODE_ID_VARIABLE}="${nodeId}" ${reason}`, { file })
  }
  return { ...config, cluster: { ...config.cluster, nodeId } }
}
