/** The command line's options, as parsed for every command. */
export interface CliOptions {
  help?: boolean
  config?: string
  'log-level'?: string
  topic?: string
  payload?: string
  'client-id'?: string
}
