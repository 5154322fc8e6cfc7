import { describe, expect, it } from 'vitest'
import { ConfigError } from '../errors.js'
import { parseConfig } from './load.js'

const CLUSTER = 'cluster:\n  redis: redis://redis:6379\n'

describe('SWITCHYARD_NODE_ID', () => {
  it('names the node when the file leaves cluster.nodeId out', () => {
    const config = parseConfig(CLUSTER, 'cluster.yaml', { SWITCHYARD_NODE_ID: 'node-b' })
    expect(config.cluster?.nodeId).toBe('node-b')
  })

  it('gives way to a nodeId in the file, and is ignored without a cluster section', () => {
    expect(parseConfig(`${CLUSTER}  nodeId: node-a\n`, 'cluster.yaml', { SWITCHYARD_NODE_ID: 'node-b' }).cluster?.nodeId).toBe('node-a')
    expect(parseConfig('', 'switchyard.yaml', { SWITCHYARD_NODE_ID: 'node-b' }).cluster).toBeUndefined()
    expect(parseConfig(CLUSTER, 'cluster.yaml', {}).cluster?.nodeId).toBeUndefined()
  })

  it('is checked as cluster.nodeId is, in one sentence that names the variable', () => {
    let error: unknown
    try {
      parseConfig(CLUSTER, 'cluster.yaml', { SWITCHYARD_NODE_ID: 'node a' })
    } catch (err) {
      error = err
    }
    expect(error).toBeInstanceOf(ConfigError)
    expect((error as Error).message).toBe('cluster.yaml: cluster.nodeId is not in the file, and SWITCHYARD_NODE_ID="node a" must be 1 to 64 letters, digits, dots, dashes or underscores')
  })
})
