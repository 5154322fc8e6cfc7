import { spawnSync } from 'node:child_process'
import { lstatSync, mkdtempSync, readFileSync, realpathSync, rmSync, symlinkSync, unlinkSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { buildSwitchyard } from './switchyard-build.js'

const GIT_TIMEOUT_MS = 120_000
const NPM_CI_TIMEOUT_MS = 900_000

/** Which Switchyard `--baseline REF` ran, as results.json keeps it and the report names it. */
export interface BaselineInfo {
  /** The ref as given, e.g. `main~3`. */
  ref: string
  /** Its commit, abbreviated. */
  commit: string
  /** The version in its package.json. */
  version: string
}

/** A ref's Switchyard, built in a temporary worktree. */
export interface Baseline {
  info: BaselineInfo
  build: { dir: string }
  /** Removes the worktree (also done when the process exits, on Ctrl-C or a crash); once is enough. */
  remove(): void
}

/** How the report names the baseline: the ref as given, or the short commit for a full hash. */
export function baselineName(info: BaselineInfo): string {
  return /^[0-9a-f]{40}$/i.test(info.ref) ? info.commit : info.ref
}

function git(root: string, args: string[]): { ok: boolean; out: string } {
  const result = spawnSync('git', ['-C', root, ...args], { encoding: 'utf8', timeout: GIT_TIMEOUT_MS })
  return { ok: result.status === 0, out: `${result.stdout ?? ''}${result.stderr ?? ''}`.trim() }
}

function isSymlink(path: string): boolean {
  try {
    return lstatSync(path).isSymbolicLink()
  } catch {
    return false
  }
}

/**
 * Checks `ref` out in a temporary worktree (`git worktree add --detach`),
 * gives it dependencies, builds it and snapshots the build as for the
 * current checkout. The dependencies are this checkout's node_modules, by a
 * symlink, when the ref's package-lock.json is the same as this one's (the
 * usual case for a refactor); otherwise `npm ci` installs the ref's own.
 * Throws, with the worktree already removed, when the ref is unknown or
 * cannot be built: a comparison without its baseline is not worth a run.
 */
export function prepareBaseline(root: string, ref: string, log: (line: string) => void): Baseline {
  const resolved = git(root, ['rev-parse', '--verify', '--quiet', `${ref}^{commit}`])
  if (!resolved.ok) throw new Error(`--baseline: ${ref} is not a commit of this repository`)
  const commit = git(root, ['rev-parse', '--short', resolved.out]).out
  const dir = mkdtempSync(join(tmpdir(), 'switchyard-baseline-'))
  let added = false
  let removed = false
  const remove = (): void => {
    if (removed) return
    removed = true
    process.off('exit', remove)
    // The link points at this checkout's node_modules: take it away first, so that no removal below can reach into it.
    const link = join(dir, 'node_modules')
    if (isSymlink(link)) unlinkSync(link)
    const unregistered = added ? git(root, ['worktree', 'remove', '--force', '--force', dir]) : { ok: true, out: '' }
    rmSync(dir, { recursive: true, force: true })
    if (!unregistered.ok) log(`could not remove the worktree ${dir} from git (${unregistered.out}); \`git worktree prune\` will`)
  }
  // 'exit' also follows Ctrl-C and crashes: killChildrenOnExit ends those with process.exit.
  process.on('exit', remove)
  try {
    log(`checking out ${ref} (${commit}) in ${dir}…`)
    const checkout = git(root, ['worktree', 'add', '--detach', dir, resolved.out])
    if (!checkout.ok) throw new Error(`--baseline: git worktree add failed: ${checkout.out}`)
    added = true
    const ownLock = readFileSync(join(root, 'package-lock.json'))
    const refLock = readFileSync(join(dir, 'package-lock.json'))
    if (refLock.equals(ownLock)) {
      symlinkSync(realpathSync(join(root, 'node_modules')), join(dir, 'node_modules'), 'dir')
    } else {
      log(`installing ${ref}'s dependencies (npm ci: its package-lock.json differs from this checkout's)…`)
      const ci = spawnSync('npm', ['ci', '--no-audit', '--no-fund'], { cwd: dir, encoding: 'utf8', timeout: NPM_CI_TIMEOUT_MS })
      if (ci.status !== 0) throw new Error(`--baseline: npm ci failed in ${ref}: ${`${ci.stdout ?? ''}\n${ci.stderr ?? ''}`.trim().split('\n').slice(-5).join(' / ')}`)
    }
    log(`building ${ref} (tsc -p tsconfig.build.json)…`)
    const build = buildSwitchyard(dir, join(dir, '.switchyard-build'))
    if ('failure' in build) throw new Error(`--baseline ${ref}: ${build.failure}`)
    const { version } = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { version: string }
    return { info: { ref, commit, version }, build, remove }
  } catch (err) {
    remove()
    throw err
  }
}
