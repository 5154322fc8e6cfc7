import { createInterface } from 'node:readline'
import { hashPassword } from '../broker/passwords.js'
import { UsageError } from '../errors.js'

/**
 * `switchyard passwd`: reads a password (typed at a hidden prompt, or one
 * line from standard input) and prints the hash to put in `auth.users`.
 */
export async function passwdCommand(): Promise<number> {
  const password = await readPassword()
  if (password.length === 0) throw new UsageError('passwd needs a password: type it at the prompt or pipe it in')
  process.stdout.write(`${await hashPassword(password)}\n`)
  return 0
}

function readPassword(): Promise<string> {
  const tty = process.stdin.isTTY === true
  const rl = createInterface({ input: process.stdin, output: tty ? process.stderr : undefined, terminal: tty })
  if (tty) {
    process.stderr.write('Password: ')
    // Echo nothing while the password is typed.
    ;(rl as unknown as { _writeToOutput(s: string): void })._writeToOutput = () => {}
  }
  return new Promise((resolve) => {
    let answered = false
    rl.once('line', (line) => {
      answered = true
      if (tty) process.stderr.write('\n')
      rl.close()
      resolve(line)
    })
    rl.once('close', () => {
      if (!answered) resolve('')
    })
  })
}
