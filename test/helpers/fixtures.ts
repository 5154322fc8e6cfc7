import { fileURLToPath } from 'node:url'

/** The absolute path of a file under test/fixtures/: `fixturePath('router/greet.js')`. */
export function fixturePath(path: string): string {
  return fileURLToPath(new URL(`../fixtures/${path}`, import.meta.url))
}
