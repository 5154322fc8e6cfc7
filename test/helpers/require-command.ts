import { spawnSync } from 'node:child_process'

/**
 * Returns the path of a command the test needs, or throws: a test that needs
 * a real service or tool fails when it is missing, it never skips.
 */
export function requireCommand(command: string, debianPackage: string): string {
  const found = spawnSync('sh', ['-c', `command -v ${command}`], { encoding: 'utf8' })
  const path = found.stdout.trim()
  if (found.status !== 0 || path === '') {
    throw new Error(`${command} is not installed: run .ci/run, or apt-get install ${debianPackage}`)
  }
  return path
}
