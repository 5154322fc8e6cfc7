import { loadConfig } from '../config/load.js'
import { UsageError } from '../errors.js'
import type { CliOptions } from './options.js'

/** `switchyard validate [--config FILE]` (switchyard.yaml by default): 0 when the file is valid; else the error and 1. */
export function validateCommand(options: CliOptions): number {
  if (!options.config) throw new UsageError('validate needs --config FILE')
  loadConfig(options.config)
  process.stdout.write(`${options.config} is valid\n`)
  return 0
}
