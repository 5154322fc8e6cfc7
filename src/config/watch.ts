import { watch, type FSWatcher } from 'node:fs'
import { basename, dirname, resolve } from 'node:path'
import { configFiles } from './layers.js'

/**
 * Calls `onChange` when the config file changes. It watches the folder, not
 * the file: editors and deploy tools often replace a file by renaming a new
 * one over it, which ends a watch on the file itself. Changes that come in a
 * burst are reported once.
 */
export function watchFile(file: string, onChange: () => void, debounceMs = 150): { close(): void } {
  const path = resolve(file)
  const name = basename(path)
  let timer: NodeJS.Timeout | undefined
  let watcher: FSWatcher | undefined
  try {
    watcher = watch(dirname(path), (_event, changed) => {
      if (changed !== null && changed !== name) return
      clearTimeout(timer)
      timer = setTimeout(onChange, debounceMs)
    })
    watcher.on('error', () => watcher?.close())
  } catch {
    // A folder that cannot be watched: SIGHUP still reloads.
  }
  return {
    close() {
      clearTimeout(timer)
      watcher?.close()
    },
  }
}

/**
 * Calls `onChange` when the config file or a file it extends changes (the
 * files it extends when this is called: a new `extends:` is watched from
 * the next start).
 */
export function watchConfig(file: string, onChange: () => void): { close(): void } {
  const watchers = configFiles(file).map((name) => watchFile(name, onChange))
  return {
    close() {
      for (const watcher of watchers) watcher.close()
    },
  }
}
