import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pino } from 'pino'
import { createApp, type App, type AppAddresses } from '../../src/app.js'
import { parseConfig } from '../../src/config/load.js'

export interface TestApp {
  app: App
  addresses: AppAddresses
  mqttUrl: string
  wsUrl: string
  httpUrl: string
  dir: string
  close(): Promise<void>
}

/** A fresh temp folder, removed by the returned function. */
export function tempDir(prefix = 'switchyard-test-'): { dir: string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), prefix))
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) }
}

/**
 * Starts the real app in this process on free loopback ports, with SQLite in
 * a fresh temp folder. `extraYaml` is appended to the config; `listenYaml`
 * replaces its `listen:` section.
 */
export async function startApp(options: { dir?: string; extraYaml?: string; listenYaml?: string } = {}): Promise<TestApp> {
  const temp = options.dir ? undefined : tempDir()
  const dir = options.dir ?? temp!.dir
  const file = join(dir, 'switchyard.yaml')
  const yaml = `${options.listenYaml ?? 'listen:\n  mqtt: 0\n  http: 0\n'}storage:\n  sqlite: ./switchyard.db\n${options.extraYaml ?? ''}`
  writeFileSync(file, yaml)
  const config = parseConfig(yaml, file)
  const log = pino({ level: process.env.SWITCHYARD_TEST_LOG ?? 'silent' })
  const app = createApp(config, log, { configFile: file })
  const addresses = await app.start()
  return {
    app,
    addresses,
    mqttUrl: `mqtt://127.0.0.1:${addresses.mqtt.port}`,
    wsUrl: `ws://127.0.0.1:${addresses.http.port}/mqtt`,
    httpUrl: `http://127.0.0.1:${addresses.http.port}`,
    dir,
    async close() {
      await app.close()
      temp?.remove()
    },
  }
}
