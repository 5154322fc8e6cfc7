import { cpSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { stringify } from 'yaml'
import { spawnPinned } from '../lib/child-processes.js'
import { freePort } from '../lib/ports.js'
import { BROKER_CPU, lastLine, PeerUnavailable, running, whenListening, type Peer } from './peer.js'
import { benchRules, type RuleCounts } from './switchyard-rules.js'

export interface SwitchyardConfigOptions {
  mqttPort: number
  httpPort: number
  sqlitePath: string
  rules?: RuleCounts | undefined
}

/** The YAML config a user would write for this run; `rules` is left out when there are none. */
export function switchyardConfig(options: SwitchyardConfigOptions): string {
  const config: Record<string, unknown> = {
    listen: { mqtt: options.mqttPort, http: options.httpPort },
    storage: { sqlite: options.sqlitePath },
    // warn, not info: nothing is logged per message at info, but a benchmark should not pay for logging at all.
    log: { level: 'warn' },
  }
  if (options.rules) config.rules = benchRules(options.rules)
  return stringify(config)
}

/** Set by the harness when `tsc -p tsconfig.build.json` failed: then no Switchyard peer can run. */
let buildFailure: string | undefined
export function switchyardBuildFailed(reason: string): void {
  buildFailure = reason
}

/** Where the copy of the build lives (inside bench/, so node_modules still resolves from it). */
let installDir: string | undefined

/**
 * Copies the fresh build (bin/, dist/, web/, package.json) aside, so that
 * every round runs the same Switchyard even if dist/ is rebuilt meanwhile,
 * as it is whenever someone runs `npm test` on this machine.
 */
export function snapshotSwitchyardBuild(root: string, dir: string): void {
  rmSync(dir, { recursive: true, force: true })
  for (const part of ['bin', 'dist', 'web', 'package.json']) cpSync(join(root, part), join(dir, part), { recursive: true })
  installDir = dir
}

/**
 * Switchyard started as a user starts it: `node bin/switchyard.js start
 * --config <file>`, from the snapshot of the build when there is one.
 */
export function switchyardPeer(id: string, label: string, root: string, rules?: RuleCounts): Peer {
  return {
    id,
    label,
    async start({ workDir }) {
      if (buildFailure) throw new PeerUnavailable(`the build failed: ${buildFailure}`)
      const mqttPort = await freePort()
      const httpPort = await freePort()
      const configFile = join(workDir, 'switchyard.yaml')
      writeFileSync(configFile, switchyardConfig({ mqttPort, httpPort, sqlitePath: join(workDir, 'switchyard.db'), rules }))
      const spawned = spawnPinned({
        cpu: BROKER_CPU,
        command: process.execPath,
        args: [join(installDir ?? root, 'bin/switchyard.js'), 'start', '--config', configFile],
        cwd: workDir,
      })
      await whenListening(spawned, [mqttPort, httpPort], (output) => {
        const said = output.split('\n').find((l) => l.startsWith('switchyard:')) ?? lastLine(output)
        // A Switchyard without the rules engine refuses the `rules` key.
        if (rules && /\brules\b/.test(said)) return `this Switchyard does not accept the rules config: ${said}`
        return `Switchyard exited (code ${spawned.exit?.code}): ${said}`
      })
      return running(spawned, mqttPort, `ws://127.0.0.1:${httpPort}/mqtt`)
    },
  }
}
