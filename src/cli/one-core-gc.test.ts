import { describe, expect, it } from 'vitest'
import { givenFlags } from '../process/given-flags.js'
import { oneCoreGcFlag } from './one-core-gc.js'

describe('oneCoreGcFlag', () => {
  it('scavenges on the main thread alone when the process has one core', () => {
    expect(oneCoreGcFlag(1, givenFlags([], ''))).toBe('--no-parallel-scavenge')
    expect(oneCoreGcFlag(1, givenFlags(['--enable-source-maps'], '--max-old-space-size=512'))).toBe('--no-parallel-scavenge')
  })

  it('leaves V8 alone with more than one core', () => {
    expect(oneCoreGcFlag(2, givenFlags([], ''))).toBeUndefined()
    expect(oneCoreGcFlag(16, givenFlags([], ''))).toBeUndefined()
  })

  it('leaves V8 alone when the command line or NODE_OPTIONS say how to scavenge', () => {
    expect(oneCoreGcFlag(1, givenFlags(['--parallel-scavenge'], ''))).toBeUndefined()
    expect(oneCoreGcFlag(1, givenFlags([], '--single-threaded-gc'))).toBeUndefined()
    expect(oneCoreGcFlag(1, givenFlags([], '--no-parallel_scavenge --max-old-space-size=512'))).toBeUndefined()
  })
})
