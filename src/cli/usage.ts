/**
 * What `switchyard --help`, `switchyard help COMMAND` and `COMMAND --help`
 * print. Each command's own text names its options and their defaults.
 */

export const USAGE = `Usage: switchyard <command> [options]

Commands:
  start      [--config switchyard.yaml] [--log-level info]   run the broker
  validate   [--config switchyard.yaml]                     check a config file (exit 0 or 1)
  passwd                                                    print the hash of a password for auth.users
  rules test [--config switchyard.yaml] --topic T [--payload JSON] [--client-id C]
                                                            show what the rules would do with a message
  help       [command]                                      show the help of a command

Options:
  -h, --help       show this help
  -v, --version    show the version
`

const COMMANDS: Record<string, string> = {
  start: `Usage: switchyard start [--config FILE] [--log-level LEVEL]

Runs the broker until SIGINT or SIGTERM, then shuts down cleanly.
The config is reread when the file changes and on SIGHUP.

Options:
  -c, --config FILE       the config file (default: switchyard.yaml)
  -l, --log-level LEVEL   fatal, error, warn, info, debug, trace or silent
                          (default: the config's log.level)
  -h, --help              show this help
`,
  validate: `Usage: switchyard validate [--config FILE]

Checks a config file without starting anything: prints "FILE is valid" and
exits 0, or prints the first mistake with its file, line and column and
exits 1.

Options:
  -c, --config FILE   the config file (default: switchyard.yaml)
  -h, --help          show this help
`,
  passwd: `Usage: switchyard passwd

Reads a password (at a hidden prompt, or one line on standard input) and
prints its hash, to put in auth.users.

Options:
  -h, --help   show this help
`,
  rules: `Usage: switchyard rules <command> [options]

Commands:
  test   show what the rules would do with a message (see: switchyard rules test --help)

Options:
  -h, --help   show this help
`,
  'rules test': `Usage: switchyard rules test [--config FILE] --topic T [--payload JSON] [--client-id C]

Prints, for each rule that matches the message, the SELECT output, the
WHERE result and each action with its templates filled in. Nothing is
executed.

Options:
  -c, --config FILE      the config file (default: switchyard.yaml)
  -t, --topic T          the message's topic
  -p, --payload JSON     the message's payload (default: {})
      --client-id C      the publisher's client id, for clientId()
  -h, --help             show this help
`,
}

/** The help of `command` ('rules test' for a subcommand); undefined for a command that does not exist. */
export function usageOf(command: string): string | undefined {
  return Object.hasOwn(COMMANDS, command) ? COMMANDS[command] : undefined
}
