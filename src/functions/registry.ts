import { existsSync } from 'node:fs'
import { resolve } from 'node:path'
import type { Logger } from 'pino'
import type { FunctionHost, FunctionTarget } from './function-target.js'
import { HttpFunction } from './http-function.js'
import { ModuleFunction } from './module-function.js'
import { isModuleFunction, type FunctionsConfig } from './schema.js'
import { WorkerPool } from './worker-pool.js'

export type { FunctionHost, FunctionTarget, InvocationContext, PublishOptions } from './function-target.js'

export interface FunctionRegistryDeps {
  /** What local functions reach of the broker and the store. */
  host: FunctionHost
  log: Logger
  /** The config file's folder; module paths are relative to it. */
  configDir: string
  /** Most worker threads at once; default max(2, available CPUs). */
  poolSize?: number | undefined
}

/**
 * The configured functions by name. Local modules share one worker pool,
 * started only when at least one is configured; `close()` stops it. A config
 * reload builds the new set with `build` and puts it in force with `use`.
 */
export class FunctionRegistry {
  #targets: ReadonlyMap<string, FunctionTarget> = new Map()
  #pool: WorkerPool | undefined
  readonly #log: Logger

  private constructor(private readonly deps: FunctionRegistryDeps) {
    this.#log = deps.log.child({ module: 'functions' })
  }

  /**
   * Builds every function of `config`. Modules are not imported here: that
   * would run their code in the broker's thread. A module file that does not
   * exist is refused by the config loader (config/module-files.ts); a config
   * built otherwise, or a file removed since, is only warned about here, and
   * invoking it fails with a message that names the file.
   */
  static create(config: FunctionsConfig, deps: FunctionRegistryDeps): FunctionRegistry {
    const registry = new FunctionRegistry(deps)
    registry.use(registry.build(config))
    return registry
  }

  /** Makes the functions of `config` without putting them in force; local ones run in this registry's pool. */
  build(config: FunctionsConfig): ReadonlyMap<string, FunctionTarget> {
    const { deps } = this
    const log = this.#log
    const entries = Object.entries(config)
    if (!this.#pool && entries.some(([, c]) => isModuleFunction(c))) this.#pool = new WorkerPool({ size: deps.poolSize, log })
    const targets = new Map<string, FunctionTarget>()
    for (const [name, c] of entries) {
      if (isModuleFunction(c)) {
        const module = resolve(deps.configDir, c.module)
        if (!existsSync(module)) log.warn({ function: name, module }, `function ${name}: module ${module} does not exist`)
        targets.set(name, new ModuleFunction({ name, module, timeout: c.timeout, retry: c.retry, publishSystemTopics: c.publishSystemTopics, env: c.env, maxExternalMemory: c.maxExternalMemory, concurrency: c.concurrency, pool: this.#pool!, host: deps.host, log }))
      } else {
        targets.set(name, new HttpFunction({ name, url: c.url, timeout: c.timeout, headers: c.headers, retry: c.retry }))
      }
    }
    return targets
  }

  /** Puts functions made by `build` in force; invocations under way finish with the function they began with. */
  use(targets: ReadonlyMap<string, FunctionTarget>): void {
    this.#targets = targets
  }

  get(name: string): FunctionTarget | undefined {
    return this.#targets.get(name)
  }

  names(): string[] {
    return [...this.#targets.keys()]
  }

  /** Refuses new local invocations, lets running ones finish briefly, then stops the workers. */
  async close(): Promise<void> {
    await this.#pool?.close()
  }
}
