import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { cpus, totalmem } from 'node:os'
import { join } from 'node:path'

export interface MachineInfo {
  cpuModel: string
  cores: number
  memoryGiB: number
  kernel: string
}

export interface Versions {
  node: string
  aedes: string
  mosquitto: string
  switchyard: string
  /** The cluster scenarios' Redis; absent in runs recorded before they existed. */
  redis?: string
}

export function machineInfo(): MachineInfo {
  const cpuinfo = readFileSync('/proc/cpuinfo', 'utf8')
  const model = /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1]?.trim() ?? cpus()[0]?.model ?? 'unknown'
  return {
    cpuModel: model,
    cores: cpus().length,
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    kernel: run('uname', ['-r']) ?? 'unknown',
  }
}

export function versions(root: string): Versions {
  const pkg = (path: string) => (JSON.parse(readFileSync(join(root, path), 'utf8')) as { version: string }).version
  const mosquitto = /version\s+(\S+)/.exec(run('mosquitto', ['-h']) ?? '')?.[1] ?? 'not installed'
  const redis = /\bv=(\S+)/.exec(run('redis-server', ['--version']) ?? '')?.[1] ?? 'not installed'
  const commit = run('git', ['-C', root, 'rev-parse', '--short', 'HEAD'])
  // The benchmark builds whatever is in src/, which may differ from the commit.
  const dirty = run('git', ['-C', root, 'status', '--porcelain', '--', 'src'])
  const switchyard = `${pkg('package.json')}${commit ? ` (${commit}${dirty ? ' + uncommitted changes in src/' : ''})` : ''}`
  return { node: process.version, aedes: pkg('node_modules/aedes/package.json'), mosquitto, switchyard, redis }
}

/** stdout of a command, or undefined if it cannot run. `mosquitto -h` exits 3, so stdout is read from the error too. */
function run(command: string, args: string[]): string | undefined {
  try {
    return execFileSync(command, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 10_000 }).trim()
  } catch (err) {
    const stdout = (err as { stdout?: string }).stdout
    return stdout ? stdout.trim() : undefined
  }
}
