import { cpSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { basename, isAbsolute, join, posix } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { parse } from 'yaml'
import { loadConfig, type Config } from '../src/config/load.js'
import { Inbox } from './helpers/mqtt.js'
import { useApp } from './helpers/use-app.js'

// No Docker daemon here: the image's file layout is made in a temp folder
// from the Dockerfile's own COPY lines, and its configs are read there by the
// real loader, /app/ and /etc/ made to point into that folder.

const ROOT = fileURLToPath(new URL('../', import.meta.url))
const read = (file: string) => readFileSync(join(ROOT, file), 'utf8')
const f = useApp()

/** The final stage of the Dockerfile: its working folder, the files it copies from the repository, its command. */
function finalStage(): { workdir: string; copies: Array<{ sources: string[]; dest: string }>; cmd: string[]; expose: number[] } {
  const lines = read('Dockerfile').replace(/\\\n/g, ' ').split('\n').map((line) => line.trim())
  const stage = lines.slice(lines.findLastIndex((line) => /^FROM\s/i.test(line)))
  let workdir = '/'
  const copies: Array<{ sources: string[]; dest: string }> = []
  let cmd: string[] = []
  let expose: number[] = []
  for (const line of stage) {
    const [instruction, ...args] = line.split(/\s+/)
    switch (instruction?.toUpperCase()) {
      case 'WORKDIR': workdir = posix.resolve(workdir, args[0]!); break
      case 'COPY': {
        if (args.some((arg) => arg.startsWith('--from'))) break // built in the image, not in the repository
        const paths = args.filter((arg) => !arg.startsWith('--'))
        copies.push({ sources: paths.slice(0, -1), dest: posix.resolve(workdir, paths.at(-1)!) + (paths.at(-1)!.endsWith('/') ? '/' : '') })
        break
      }
      case 'CMD': cmd = JSON.parse(args.join(' ')) as string[]; break
      case 'EXPOSE': expose = args.map(Number); break
    }
  }
  return { workdir, copies, cmd, expose }
}

/** Copies what the Dockerfile copies, as `docker build` would, under `image` (the image's `/`). */
function makeImage(image: string): ReturnType<typeof finalStage> {
  const stage = finalStage()
  for (const { sources, dest } of stage.copies) {
    for (const source of sources) {
      const into = dest.endsWith('/') || sources.length > 1 ? join(image, dest, basename(source)) : join(image, dest)
      mkdirSync(join(into, '..'), { recursive: true })
      cpSync(join(ROOT, source), into, { recursive: true })
    }
  }
  return stage
}

/** Loads a config file of the image as the container would, its absolute paths into the image's folders made to point under `image`. */
function loadInImage(image: string, file: string, env: NodeJS.ProcessEnv = {}): Config {
  const inImage = join(image, file)
  const text = readFileSync(inImage, 'utf8').replace(/(?<=[\s'"])\/(app|etc)\//g, `${image}/$1/`)
  writeFileSync(inImage, text)
  return loadConfig(inImage, env)
}

/** What `npm start` runs: the rules (as data: their SQL and actions' templates by their source), the functions, auth and ACL. */
const npmStart = loadConfig(join(ROOT, 'switchyard.yaml'))
const rules = (config: Config) => config.rules.map(({ query: _compiled, ...rule }) => JSON.parse(JSON.stringify(rule)) as unknown)
const functionsIn = (config: Config, image: string, workdir: string) =>
  Object.fromEntries(Object.entries(config.functions).map(([name, fn]) =>
    [name, 'module' in fn ? { ...fn, module: fn.module.replace(join(image, workdir) + '/', ROOT) } : fn]))

function expectTheChat(config: Config, image: string, workdir: string): void {
  expect(config.rules.map((rule) => rule.name)).toEqual(['chatPub', 'chatStore', 'chatJoin', 'chatOnline', 'chatOffline', 'chatPresenceStore'])
  expect(rules(config)).toEqual(rules(npmStart))
  expect(config.acl).toEqual(npmStart.acl)
  // The modules are the example's, at the place the Dockerfile copies them to.
  expect(functionsIn(config, image, workdir)).toEqual(npmStart.functions)
  for (const fn of Object.values(config.functions)) {
    if (!('module' in fn)) continue
    expect(fn.module.startsWith(join(image, workdir, 'examples/chat/functions') + '/')).toBe(true)
    expect(existsSync(fn.module), fn.module).toBe(true)
  }
}

describe('the image', () => {
  it('runs the chat of `npm start` with docker/switchyard.yaml, listening on every interface of the container, its data on /data', () => {
    const image = f.tempDir()
    const { workdir, cmd, expose } = makeImage(image)
    const configFile = cmd[cmd.indexOf('--config') + 1]!
    expect(isAbsolute(configFile)).toBe(true)
    const config = loadInImage(image, configFile)

    expectTheChat(config, image, workdir)
    expect(config.auth).toEqual({ ...npmStart.auth, jwt: { ...npmStart.auth.jwt, secretFile: '/data/jwt-secret' } })
    expect(config.listen).toEqual({ mqtt: { host: '0.0.0.0', port: 1883 }, http: { host: '0.0.0.0', port: 8080 } })
    expect(expose).toEqual([config.listen.mqtt.port, config.listen.http.port])
    expect(config.storage.sqlite).toBe('/data/switchyard.db')
  })

  it('runs the same chat on each node of docker-compose.yml, with docker/cluster.yaml', () => {
    const image = f.tempDir()
    const { workdir } = makeImage(image)
    const compose = parse(read('docker-compose.yml'), { merge: true }) as { services: Record<string, { command?: string[]; build?: string }> }
    const commands = Object.values(compose.services).filter((service) => service.build !== undefined).map((service) => service.command!)
    expect(commands.length).toBeGreaterThan(0)
    for (const command of commands) {
      const config = loadInImage(image, command[command.indexOf('--config') + 1]!, { SWITCHYARD_NODE_ID: 'node-a' })
      expectTheChat(config, image, workdir)
      expect(config.listen).toEqual({ mqtt: { host: '0.0.0.0', port: 1883 }, http: { host: '0.0.0.0', port: 8080 } })
    }
  })

  it('publishes the ports the head of docker-compose.yml names, on the addresses it says', () => {
    const text = read('docker-compose.yml')
    const compose = parse(text, { merge: true }) as { services: Record<string, { ports?: string[] }> }
    const published = Object.values(compose.services).flatMap((service) => service.ports ?? []).map((entry) => entry.split(/\s/)[0]!)
    const head = text.slice(0, text.search(/^[^#\s]/m))
    const named = [...head.matchAll(/(\w+):\/\/(localhost|127\.0\.0\.1):(\d+)/g)].map((m) => ({ host: m[2]!, port: m[3]! }))
    expect(named.length).toBeGreaterThan(0)
    for (const { host, port } of named) {
      // localhost: published on every interface of the host; 127.0.0.1: on this machine only.
      expect(published).toContain(host === 'localhost' ? `${port}:${port}` : `${host}:${port}:${port}`)
    }
  })

  it('answers a chat message with docker/switchyard.yaml: the message reaches the room', async () => {
    const image = f.tempDir()
    makeImage(image)
    loadInImage(image, '/etc/switchyard/switchyard.yaml')
    // The image's config with this test's ports and files on top.
    const app = await f.start(`extends: ${join(image, 'etc/switchyard/switchyard.yaml')}\nauth:\n  jwt: { secretFile: ${join(f.tempDir(), 'jwt-secret')} }\n`)
    const res = await fetch(`${app.httpUrl}/auth/guest`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' })
    const guest = await res.json() as { username: string; token: string }
    const tab = await f.connect({ clientId: `chat-${guest.username}-0001`, username: guest.username, password: guest.token })
    const room = new Inbox(tab)
    await tab.subscribeAsync('chat/pub/lobby', { qos: 1 })
    await tab.publishAsync('chat/out', JSON.stringify({ room: 'lobby', message: 'hello from the container', name: 'Ann' }), { qos: 1 })
    expect(JSON.parse((await room.on('chat/pub/lobby')).payload)).toMatchObject({ message: 'hello from the container', user: guest.username })
  })
})
