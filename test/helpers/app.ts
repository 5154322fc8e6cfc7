import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pino } from 'pino'
import { createApp, type App, type AppAddresses } from '../../src/app.js'
import { parseConfig } from '../../src/config/load.js'

/** A log line of the app, parsed. */
export interface LogLine {
  level: number
  msg: string
  [key: string]: unknown
}

export interface TestApp {
  app: App
  addresses: AppAddresses
  mqttUrl: string
  wsUrl: string
  httpUrl: string
  dir: string
  /** What the app logged at info level and above, when started with `captureLogs`. */
  logs: LogLine[]
  close(): Promise<void>
}

export interface StartOptions {
  /** The folder of the config file and the database; a fresh temp folder, removed on close, unless given. */
  dir?: string | undefined
  /** Appended to the config. */
  extraYaml?: string | undefined
  /** Replaces the config's `listen:` section. */
  listenYaml?: string | undefined
  /** Keeps the app's log lines (info and above) in `logs`. */
  captureLogs?: boolean | undefined
}

/** A fresh temp folder, removed by the returned function. */
export function tempDir(prefix = 'switchyard-test-'): { dir: string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), prefix))
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) }
}

/**
 * Starts the real app in this process on free loopback ports, with SQLite in
 * a fresh temp folder. Tests start it through `useApp()` (fixture.ts), which
 * closes it after the test.
 */
export async function startApp(options: StartOptions = {}): Promise<TestApp> {
  const temp = options.dir ? undefined : tempDir()
  const dir = options.dir ?? temp!.dir
  const file = join(dir, 'switchyard.yaml')
  const yaml = `${options.listenYaml ?? 'listen:\n  mqtt: 0\n  http: 0\n'}storage:\n  sqlite: ./switchyard.db\n${options.extraYaml ?? ''}`
  writeFileSync(file, yaml)
  const config = parseConfig(yaml, file)
  const logs: LogLine[] = []
  const log = options.captureLogs
    ? pino({ level: 'info' }, { write: (line: string) => void logs.push(JSON.parse(line) as LogLine) })
    : pino({ level: process.env.SWITCHYARD_TEST_LOG ?? 'silent' })
  const app = createApp(config, log, { configFile: file })
  const addresses = await app.start()
  return {
    app,
    addresses,
    mqttUrl: `mqtt://127.0.0.1:${addresses.mqtt.port}`,
    wsUrl: `ws://127.0.0.1:${addresses.http.port}/mqtt`,
    httpUrl: `http://127.0.0.1:${addresses.http.port}`,
    dir,
    logs,
    async close() {
      await app.close()
      temp?.remove()
    },
  }
}
