import { parseArgs } from 'node:util'
import { SwitchyardError, UsageError } from '../errors.js'
import { startCommand } from './start.js'
import { passwdCommand } from './passwd.js'
import { rulesTestCommand } from './rules-test.js'
import { validateCommand } from './validate.js'
import type { CliOptions } from './options.js'
import { USAGE, usageOf } from './usage.js'

/** Runs the command line; resolves to the exit code. */
export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv
  try {
    switch (command) {
      case 'start':
        return await withHelp('start', options(rest, { config: 'switchyard.yaml' }, ['config', 'log-level']), startCommand)
      case 'validate':
        return await withHelp('validate', options(rest, { config: 'switchyard.yaml' }, ['config']), validateCommand)
      case 'passwd':
        return await withHelp('passwd', options(rest, {}, []), passwdCommand)
      case 'rules':
        if (rest[0] === '-h' || rest[0] === '--help') return help('rules')
        if (rest[0] !== 'test') throw new UsageError(`unknown command "rules ${rest[0] ?? ''}": did you mean "rules test"?`)
        return await withHelp('rules test', options(rest.slice(1), { config: 'switchyard.yaml' }, ['config', 'topic', 'payload', 'client-id']), rulesTestCommand)
      case '-v':
      case '--version':
        process.stdout.write(`${await version()}\n`)
        return 0
      case 'help':
        if (rest.length > 0) return help(rest.join(' '))
        process.stdout.write(USAGE)
        return 0
      case undefined:
      case '-h':
      case '--help':
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
  help: { type: 'boolean', short: 'h' },
  config: { type: 'string', short: 'c' },
  'log-level': { type: 'string', short: 'l' },
  topic: { type: 'string', short: 't' },
  payload: { type: 'string', short: 'p' },
  'client-id': { type: 'string' },
} as const

/** Prints the help of `command` on stdout; an unknown one is a usage error. */
function help(command: string): number {
  const text = usageOf(command)
  if (text === undefined) throw new UsageError(`unknown command "${command}"`)
  process.stdout.write(text)
  return 0
}

/** Runs `run` with the options, or prints the command's help when they ask for it. */
function withHelp(command: string, values: CliOptions, run: (options: CliOptions) => number | Promise<number>): number | Promise<number> {
  if (values.help) return help(command)
  return run(values)
}

/** Every command takes -h/--help beside `allowed`. */
function options(args: string[], defaults: CliOptions, allowed: Array<Exclude<keyof typeof OPTIONS, 'help'>>): CliOptions {
  try {
    const { values } = parseArgs({
      args,
      options: Object.fromEntries(['help' as const, ...allowed].map((name) => [name, OPTIONS[name]])),
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
