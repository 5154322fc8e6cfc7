import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { existsSync, readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { SetupError } from './setup-error.js'

/** The newest modification time of the files under `dir` that `keep` accepts; 0 when there are none. */
function newest(dir: string, keep: (file: string) => boolean): number {
  let latest = 0
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile()) continue
    const file = join(entry.parentPath, entry.name)
    if (keep(file)) latest = Math.max(latest, statSync(file).mtimeMs)
  }
  return latest
}

/** Whether dist/ is missing or older than a source file it is built from (tsconfig.build.json leaves tests out). */
export function needsBuild(root: string): boolean {
  if (!existsSync(join(root, 'dist/cli/index.js'))) return true
  const source = newest(join(root, 'src'), (f) => f.endsWith('.ts') && !f.endsWith('.test.ts'))
  return source > newest(join(root, 'dist'), (f) => f.endsWith('.js'))
}

/** Runs `npm run build`, its output on this terminal; throws when it fails. */
export async function build(root: string): Promise<void> {
  const child = spawn('npm', ['run', 'build', '--silent'], { cwd: root, stdio: 'inherit' })
  const [code] = (await once(child, 'exit')) as [number | null]
  if (code !== 0) throw new SetupError('the build failed (its errors are above)')
}
