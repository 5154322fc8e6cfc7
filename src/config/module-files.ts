import { statSync } from 'node:fs'
import { isModuleFunction, type FunctionsConfig } from '../functions/schema.js'

/**
 * The first local function whose module file is not there, with what is
 * wrong (`module` already resolved against the config file's folder). A
 * function without its file would fail every invocation, and a chat whose
 * backlog function is missing silently loses its history: the config is
 * refused instead, at `validate`, at `start` and at a reload.
 */
export function missingModule(functions: FunctionsConfig): { name: string; problem: string } | undefined {
  for (const [name, fn] of Object.entries(functions)) {
    if (!isModuleFunction(fn)) continue
    const problem = fileProblem(fn.module)
    if (problem) return { name, problem }
  }
  return undefined
}

function fileProblem(path: string): string | undefined {
  try {
    return statSync(path).isDirectory() ? `names a folder, not a JavaScript file: ${path}` : undefined
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    if (code === 'ENOENT' || code === 'ENOTDIR') return `names a file that does not exist: ${path}`
    return `names a file that cannot be read: ${path} (${(err as Error).message})`
  }
}
