import { spawnSync } from 'node:child_process'
import { cpSync, rmSync } from 'node:fs'
import { join } from 'node:path'

const BUILD_TIMEOUT_MS = 300_000

/** The Switchyard a peer runs: the snapshot of a build, or why there is none (its peers are then reported as not available). */
export type SwitchyardBuild = { dir: string } | { failure: string }

/**
 * `npx tsc -p tsconfig.build.json` in `root`, then a copy of the build
 * (bin/, dist/, web/, package.json) in `snapshotDir`, so that every round
 * runs the same Switchyard even if dist/ is rebuilt meanwhile, as it is
 * whenever someone runs `npm test` on this machine. The snapshot must sit
 * where `node_modules` still resolves from (below `root`).
 */
export function buildSwitchyard(root: string, snapshotDir: string): SwitchyardBuild {
  const error = compileTypeScript(root, 'tsconfig.build.json')
  if (error !== undefined) return { failure: `the build failed: ${error}` }
  rmSync(snapshotDir, { recursive: true, force: true })
  for (const part of ['bin', 'dist', 'web', 'package.json']) cpSync(join(root, part), join(snapshotDir, part), { recursive: true })
  return { dir: snapshotDir }
}

/** `npx tsc -p <project>` in `root`: undefined when it compiled, else its first error and how many there were. */
export function compileTypeScript(root: string, project: string): string | undefined {
  const result = spawnSync('npx', ['tsc', '-p', project], { cwd: root, encoding: 'utf8', timeout: BUILD_TIMEOUT_MS })
  return result.status === 0 ? undefined : buildError(result.stdout ?? '', result.stderr ?? '', result.status)
}

/** The first error tsc printed, and how many there were. */
function buildError(stdout: string, stderr: string, status: number | null): string {
  const firstError = `${stdout}\n${stderr}`.split('\n').find((l) => l.includes('error')) ?? `exit ${status}`
  const errors = stdout.split('\n').filter((l) => l.includes('error TS')).length
  return `${errors > 1 ? `${errors} errors, the first: ` : ''}${firstError.trim()}`
}
