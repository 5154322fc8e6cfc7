import { parseArgs } from 'node:util'
import { SwitchyardError, UsageError } from '../errors.js'
import { startCommand } from './start.js'
import { validateCommand } from './validate.js'

const USAGE = `Usage: switchyard <command> [options]

Commands:
  start      [--config switchyard.yaml] [--log-level info]   run the broker
  validate   --config FILE                                  check a config file (exit 0 or 1)

Options:
  -h, --help       show this help
  -v, --version    show the version
`

/** Runs the command line; resolves to the exit code. */
export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv
  try {
    switch (command) {
      case 'start':
        return await startCommand(options(rest, { config: 'switchyard.yaml' }))
      case 'validate':
        return validateCommand(options(rest, {}))
      case '-v':
      case '--version':
        process.stdout.write(`${await version()}\n`)
        return 0
      case undefined:
      case '-h':
      case '--help':
      case 'help':
        process.stdout.write(USAGE)
        return command === undefined ? 1 : 0
      default:
        throw new UsageError(`unknown command "${command}"`)
    }
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`switchyard: ${err.message}\n\n${USAGE}`)
      return 2
    }
    if (err instanceof SwitchyardError) {
      process.stderr.write(`switchyard: ${err.message}\n`)
      return 1
    }
    throw err
  }
}

export interface CliOptions {
  config?: string
  'log-level'?: string
}

function options(args: string[], defaults: CliOptions): CliOptions {
  try {
    const { values } = parseArgs({
      args,
      options: {
        config: { type: 'string', short: 'c' },
        'log-level': { type: 'string', short: 'l' },
      },
      strict: true,
      allowPositionals: false,
    })
    return { ...defaults, ...values }
  } catch (err) {
    throw new UsageError((err as Error).message)
  }
}

async function version(): Promise<string> {
  const { readFile } = await import('node:fs/promises')
  const pkg = JSON.parse(await readFile(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }
  return pkg.version
}
