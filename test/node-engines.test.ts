import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'

// npm's own range logic (fastify depends on it), so that a range reads here as `npm install` reads it.
const semver = createRequire(import.meta.url)('semver') as {
  minVersion(range: string): { version: string } | null
  satisfies(version: string, range: string): boolean
}

const ROOT = fileURLToPath(new URL('../', import.meta.url))
const read = (file: string) => readFileSync(join(ROOT, file), 'utf8')
const pkg = JSON.parse(read('package.json')) as { engines: { node: string } }
const oldest = semver.minVersion(pkg.engines.node)!.version

describe('the Node version the project states', () => {
  it('is one every locked package accepts, so that `npm install` warns of none', () => {
    const lock = JSON.parse(read('package-lock.json')) as { packages: Record<string, { engines?: { node?: string } }> }
    const refusing = Object.entries(lock.packages)
      .filter(([path, entry]) => path !== '' && entry.engines?.node !== undefined && !semver.satisfies(oldest, entry.engines.node))
      .map(([path, entry]) => `${path.replace(/^.*node_modules\//, '')} wants ${entry.engines!.node}`)
    expect(refusing, `Node ${oldest}, the oldest of engines.node "${pkg.engines.node}"`).toEqual([])
  })

  it('is the one the README and the Dockerfile name', () => {
    const [major, minor] = oldest.split('.')
    expect(read('README.md')).toContain(`Node.js ${major} (${major}.${minor} or later)`)
    const images = [...read('Dockerfile').matchAll(/^FROM node:(\d+)[-.\w]*/gm)].map((m) => Number(m[1]))
    expect(images.length).toBeGreaterThan(0)
    for (const image of images) expect(semver.satisfies(`${image}.99.99`, pkg.engines.node)).toBe(true)
    // The image runs the Node the project states, not a newer major than it was tested on.
    expect(images.every((image) => image === Number(major))).toBe(true)
  })
})
