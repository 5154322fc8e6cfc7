import { pino, type Level } from 'pino'
import { createApp } from '../app.js'
import { loadConfig } from '../config/load.js'
import { UsageError } from '../errors.js'
import { collectWhenIdle } from '../process/idle-collection.js'
import type { CliOptions } from './options.js'
import { startedLine } from './started-line.js'
import { setBrokerV8Flags } from './v8-flags.js'

const LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']
// A shutdown that takes longer than this is stuck; exit anyway.
const SHUTDOWN_LIMIT_MS = 5000

/** `switchyard start`: runs until SIGINT or SIGTERM, then shuts down cleanly and resolves 0. */
export async function startCommand(options: CliOptions): Promise<number> {
  const level = options['log-level']
  if (level !== undefined && !LEVELS.includes(level)) {
    throw new UsageError(`--log-level must be one of ${LEVELS.join(', ')}, not "${level}"`)
  }
  const config = loadConfig(options.config!)
  const v8Flags = setBrokerV8Flags()
  const log = pino({ level: (level ?? config.log.level) as Level, base: { pid: process.pid } })
  log.debug({ v8: v8Flags }, 'V8 flags set')
  const app = createApp(config, log, { configFile: options.config })
  const addresses = await app.start()
  log.info({ mqtt: addresses.mqtt, http: addresses.http, config: options.config }, 'Switchyard started')
  // For the person at the terminal, on stderr: stdout stays JSON lines for log tools.
  process.stderr.write(`${startedLine(addresses)}\n`)

  // What a burst of load made the heap take is given back once it is over.
  const idle = collectWhenIdle({ collected: (before) => log.debug({ heapBytes: before }, 'heap collected once the broker went quiet') })
  // SIGHUP rereads the config, as the file watcher does.
  process.on('SIGHUP', () => app.reload())

  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    process.once('SIGINT', resolve)
    process.once('SIGTERM', resolve)
  })
  log.info({ signal }, 'shutting down')
  idle.stop()
  const timer = setTimeout(() => {
    log.error('shutdown took too long; exiting')
    process.exit(1)
  }, SHUTDOWN_LIMIT_MS)
  timer.unref()
  await app.close()
  clearTimeout(timer)
  log.info('stopped')
  return 0
}
