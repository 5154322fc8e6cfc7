import { createHook } from 'node:async_hooks'

let kept: object | undefined

/**
 * Keeps one of `process.nextTick`'s queue entries alive for the life of the
 * process, so that every later entry is made by V8's fast path.
 *
 * Node.js makes each entry with an object literal whose first keys are
 * computed (`{ [async_id_symbol]: …, [trigger_async_id_symbol]: …,
 * callback, args }`, lib/internal/process/task_queues.js). V8 adds such
 * keys one by one, and remembers at each the shape (map) it saw; it holds
 * those shapes weakly. A full collection that runs while no entry is
 * queued, as the idle collection's do and as loading a large config did,
 * frees the shapes. The next entry gets new ones, V8 then takes the site
 * for one that sees many shapes, and from then on every `nextTick` call
 * adds its keys in V8's runtime: 0.2 µs more for each, paid several times
 * for each message a broker routes (bench/LIMITS.md, "`process.nextTick`
 * after a full collection").
 *
 * An entry kept here keeps its shapes, and with them the site's one shape.
 * It is taken as it is made, from an async hook that is enabled for the
 * one call and disabled again. To be called before anything else is
 * loaded, so before V8's first full collection: once the site has seen a
 * second shape, keeping one no longer helps.
 */
export function keepTickObjectShape(): void {
  if (kept) return
  const hook = createHook({
    init(_asyncId, type, _triggerAsyncId, resource) {
      if (type === 'TickObject') kept = resource
    },
  })
  hook.enable()
  try {
    process.nextTick(noop)
  } finally {
    hook.disable()
  }
}

function noop(): void {}
