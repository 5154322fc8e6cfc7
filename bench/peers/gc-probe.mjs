/**
 * Loaded into a Node broker with `node --expose-gc --import <this file>`
 * for the idle-connection cases: on SIGUSR2 the broker runs full garbage
 * collections, so that an RSS reading after it counts what the broker
 * keeps, not what its collector has not yet taken back (a load's garbage
 * in the old generation, the handshakes' garbage). Two in a row: what the
 * first finds dead only through weak references goes in the second.
 * Worker threads (the function pool) load this too and do nothing.
 */
import { isMainThread } from 'node:worker_threads'

if (isMainThread && typeof globalThis.gc === 'function') {
  process.on('SIGUSR2', () => {
    globalThis.gc()
    globalThis.gc()
  })
}
