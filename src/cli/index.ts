import { parseArgs } from 'node:util'
import { SwitchyardError, UsageError } from '../errors.js'
import { startCommand } from './start.js'
import { passwdCommand } from './passwd.js'
import { rulesTestCommand } from './rules-test.js'
import { validateCommand } from './validate.js'
import type { CliOptions } from './options.js'

const USAGE = `Usage: switchyard <command> [options]

Commands:
  start      [--config switchyard.yaml] [--log-level info]   run the broker
  validate   --config FILE                                  check a config file (exit 0 or 1)
  passwd                                                    print the hash of a password for auth.users
  rules test --config FILE --topic T --payload JSON [--client-id C]
                                                            show what the rules would do with a message

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
        return await startCommand(options(rest, { config: 'switchyard.yaml' }, ['config', 'log-level']))
      case 'validate':
        return validateCommand(options(rest, {}, ['config']))
      case 'passwd':
        options(rest, {}, [])
        return await passwdCommand()
      case 'rules':
        if (rest[0] !== 'test') throw new UsageError(`unknown command "rules ${rest[0] ?? ''}": did you mean "rules test"?`)
        return rulesTestCommand(options(rest.slice(1), { config: 'switchyard.yaml' }, ['config', 'topic', 'payload', 'client-id']))
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

const OPTIONS = {
  config: { type: 'string', short: 'c' },
  'log-level': { type: 'string', short: 'l' },
  topic: { type: 'string', short: 't' },
  payload: { type: 'string', short: 'p' },
  'client-id': { type: 'string' },
} as const

function options(args: string[], defaults: CliOptions, allowed: Array<keyof typeof OPTIONS>): CliOptions {
  try {
    const { values } = parseArgs({
      args,
      options: Object.fromEntries(allowed.map((name) => [name, OPTIONS[name]])),
      strict: true,
      allowPositionals: false,
    })
    return { ...defaults, ...(values as CliOptions) }
  } catch (err) {
    throw new UsageError((err as Error).message)
  }
}

async function version(): Promise<string> {
  const { readFile } = await import('node:fs/promises')
  const pkg = JSON.parse(await readFile(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }
  return pkg.version
}
